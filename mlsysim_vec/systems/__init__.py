"""Node, fabric and fleet records; the built-in entries are ``mlsysim_vec.Systems``."""
