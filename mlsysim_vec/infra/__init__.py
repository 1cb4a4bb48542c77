"""Grid, datacenter and cooling records; the built-in entries are ``mlsysim_vec.Infra``."""
