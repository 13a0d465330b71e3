"""Risk factors: one module per trigger, each a :class:`~abm.model.component.RiskFactor`.

A trigger's flag is a pure function of logged columns, so anyone can recompute it from the
``daily`` frame; comparisons are made on the stored values, as a user's pandas or Polars
expression would make them.
"""
