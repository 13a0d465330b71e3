"""Exports of an ``abm run`` output folder for other tools (``abm export``).

- :mod:`abm.exports.eventlog`: the event log as XES (IEEE 1849-2016), OCEL 2.0 JSON, Parquet or
  CSV, for process-mining tools such as pm4py, ProM or Celonis;
- :mod:`abm.exports.fusemoe`: per-patient-day prediction samples in the pickle layout of
  FuseMoE's MIMIC-IV loader;
- :mod:`abm.cli.export`: the ``abm export`` subcommand;
- :mod:`abm.exports.atomic`: reading the source folder and checking targets before any work.
"""
