"""Workload records; the built-in entries are ``mlsysim_vec.Models``."""
