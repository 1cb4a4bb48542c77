"""Accelerator records (``HardwareNode``); the built-in entries are ``mlsysim_vec.Hardware``."""
