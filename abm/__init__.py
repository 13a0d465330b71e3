"""abm: cohorts of migraine patients as SimPy agents, with multimodal synthetic data.

The public API is small on purpose:

- :class:`Config` and :func:`load_config`: the validated configuration (``abm.config``);
- :func:`simulate`: run a configuration, get a :class:`Result` of Polars frames;
- :func:`write_outputs`: write a result as Parquet, CSV or the seed's CSV layout, atomically;
- :func:`validate`: the SPEC §7 validation table of a result or an output folder;
- :class:`SyntheticDataGenerator`: the user's original entry point, kept working;
- :class:`AbmError` and its subclasses: errors that bad input can cause.
"""

from abm.compat import SyntheticDataGenerator
from abm.config import Config, load_config
from abm.errors import AbmError, ConfigError, InputError, OutputError
from abm.export import write_outputs
from abm.simulation import Result, simulate
from abm.validate import validate

__version__ = "0.1.0"

__all__ = [
    "AbmError",
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
