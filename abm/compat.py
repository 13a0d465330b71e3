"""The user's original entry point, kept working.

``SyntheticDataGenerator(num_patients=1000, days=180, output_dir='./data', seed=None)
.generate_data()`` simulates with the default configuration, writes the seed's CSV layout to
``output_dir`` and returns a dictionary with the keys the design returned, holding pandas
DataFrames.

``output_dir`` follows the rules of every ``abm`` output (``abm.output.write``): it must be new or
empty; an earlier ``abm`` output there is replaced only with ``overwrite=True``, and a folder
holding anything else never is. Replacing silently would let a small trial call wipe out a large
earlier run; the check comes before the simulation, so a refused call costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abm.config.settings import Config
from abm.engine.simulation import simulate
from abm.output.write import _seed_frames, check_target, write_outputs


class SyntheticDataGenerator:
    """Seed-shaped facade over :func:`abm.simulate` and :func:`abm.write_outputs`."""

    def __init__(self, num_patients: int = 1000, days: int = 180, output_dir: str = "./data",
                 seed: int | None = None, overwrite: bool = False) -> None:
        changes: dict[str, Any] = {"population.num_patients": num_patients, "run.days": days}
        if seed is not None:
            changes["run.seed"] = seed
        self.config = Config().replace(**changes)
        self.output_dir = output_dir
        self.overwrite = overwrite

    def generate_data(self) -> dict[str, Any]:
        """Simulate, write the seed CSV layout, return pandas frames by the design's names.

        Raises :class:`~abm.errors.OutputError` before simulating if ``output_dir`` already
        holds data and ``overwrite`` is not set, or holds anything but an ``abm`` output.
        """
        check_target(Path(self.output_dir), self.overwrite, option="output_dir")
        result = simulate(self.config)
        write_outputs(result, self.output_dir, fmt="seed-csv", overwrite=self.overwrite)
        seed = _seed_frames(result.frames(), result.model)
        # the design's names: each file's, and ``combined`` for the per-patient-day table
        return {("combined" if name == "combined_data.csv" else name.removesuffix(".csv")):
                frame.to_pandas() for name, frame in seed.items()}
