"""Validation of a run against its targets (``checks``) and the statistics it uses (``stats``)."""
