"""abm: cohorts of migraine patients as SimPy agents, with multimodal synthetic data.

The public API is small on purpose:

- :class:`Config` and :func:`load_config`: the validated configuration (``abm.config.settings``);
- :func:`simulate`: run a configuration, get a :class:`Result` of Polars frames;
- :func:`write_outputs`: write a result as Parquet, CSV or the seed's CSV layout, atomically;
- :func:`validate`: the validation table (``abm validate``) of a result or an output folder;
- :class:`SyntheticDataGenerator`: the user's original entry point, kept working;
- :class:`AbmError` and its subclasses: errors that bad input can cause;
- the model's building blocks, to add your own: :class:`Component` (a modality),
  :class:`RiskFactor`, :class:`Coupling`, :class:`FeedbackRule`, with :class:`Column` and
  :class:`PlannedEdit` (``abm.model.component``); pass instances to ``simulate(components=...)``.
"""

from typing import TYPE_CHECKING

from abm.config.settings import Config, load_config
from abm.errors import AbmError, ConfigError, InputError, OutputError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from abm.compat import SyntheticDataGenerator
    from abm.engine.simulation import simulate
    from abm.model.component import (
        Column,
        Component,
        Coupling,
        FeedbackRule,
        PlannedEdit,
        RiskFactor,
    )
    from abm.output.result import Result
    from abm.output.write import write_outputs
    from abm.validation.checks import validate

# Heavier parts (SimPy, Polars) are imported on first use, so ``abm --help`` and configuration
# checks answer at once.
_LAZY = {
    "SyntheticDataGenerator": "abm.compat",
    "write_outputs": "abm.output.write",
    "Result": "abm.output.result",
    "simulate": "abm.engine.simulation",
    "validate": "abm.validation.checks",
    "Column": "abm.model.component",
    "Component": "abm.model.component",
    "Coupling": "abm.model.component",
    "FeedbackRule": "abm.model.component",
    "PlannedEdit": "abm.model.component",
    "RiskFactor": "abm.model.component",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'abm' has no attribute {name!r}")

__all__ = [
    "AbmError",
    "Column",
    "Component",
    "Coupling",
    "FeedbackRule",
    "PlannedEdit",
    "RiskFactor",
    "Config",
    "ConfigError",
    "InputError",
    "OutputError",
    "Result",
    "SyntheticDataGenerator",
    "load_config",
    "simulate",
    "validate",
    "write_outputs",
    "__version__",
]
