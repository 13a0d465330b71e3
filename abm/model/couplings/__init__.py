"""Couplings: one module per dependency between modalities, each a
:class:`~abm.model.component.Coupling` that adds a term to an editable column from other columns
(of the same day, or with a lag of days); the engine adds it in the draw and again whenever an
edit changes one of its inputs.
"""
