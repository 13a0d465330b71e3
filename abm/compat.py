"""The user's original entry point, kept working.

``SyntheticDataGenerator(num_patients=1000, days=180, output_dir='./data', seed=None)
.generate_data()`` simulates with the default configuration, writes the seed's CSV layout to
``output_dir`` (replacing an earlier ``abm`` output there) and returns a dictionary with the keys
the design returned, holding pandas DataFrames.
"""

from __future__ import annotations

from typing import Any

from abm.config import Config
from abm.export import _seed_frames, write_outputs
from abm.simulation import simulate


class SyntheticDataGenerator:
    """Seed-shaped facade over :func:`abm.simulate` and :func:`abm.write_outputs`."""

    def __init__(self, num_patients: int = 1000, days: int = 180, output_dir: str = "./data",
                 seed: int | None = None) -> None:
        changes: dict[str, Any] = {"population.num_patients": num_patients, "run.days": days}
        if seed is not None:
            changes["run.seed"] = seed
        self.config = Config().replace(**changes)
        self.output_dir = output_dir

    def generate_data(self) -> dict[str, Any]:
        """Simulate, write the seed CSV layout, return pandas frames by the design's names."""
        result = simulate(self.config)
        write_outputs(result, self.output_dir, fmt="seed-csv", overwrite=True)
        seed = _seed_frames(result.frames())
        return {
            "patient_profiles": seed["patient_profiles.csv"].to_pandas(),
            "migraine_events": seed["migraine_events.csv"].to_pandas(),
            "sleep_data": seed["sleep_data.csv"].to_pandas(),
            "weather_data": seed["weather_data.csv"].to_pandas(),
            "stress_diet_data": seed["stress_diet_data.csv"].to_pandas(),
            "combined": seed["combined_data.csv"].to_pandas(),
        }
