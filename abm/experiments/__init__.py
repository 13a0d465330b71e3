"""Experiments: variants x replicates of a configuration, their metrics, figures and outputs."""
