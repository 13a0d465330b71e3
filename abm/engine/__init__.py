"""The engine: the day clock, random streams, the cohort's arrays, the SimPy agents, calibration."""
