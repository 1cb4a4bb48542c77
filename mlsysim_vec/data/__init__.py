"""Registry data files (CSV, one row per entry, units in the headers); read by ``mlsysim_vec.registry``."""
