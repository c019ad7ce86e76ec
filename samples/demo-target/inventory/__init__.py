"""A small inventory library (sample target of odibi-improve's demo)."""
