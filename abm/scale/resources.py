"""Up-front estimates of what a run needs, so an impossible run is refused before it starts.

The figures per patient-day are measured on the default configuration (``benchmarks/``): a run
holds about 500 bytes per patient-day at its peak (the cohort's arrays, then the frames and the
event log being assembled), and writes about 40 bytes per patient-day as Parquet, 450 as CSV and
300 in the seed's CSV layout. A run is refused when its estimate exceeds the memory the machine
has available or the free space of the output's file system.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from abm import wording
from abm.config.settings import Config
from abm.errors import AbmError

PEAK_BYTES_PER_PATIENT_DAY = 500
BASE_BYTES = 150 * 2**20
OUTPUT_BYTES_PER_PATIENT_DAY = {"parquet": 40, "csv": 450, "seed-csv": 300}


class ResourceError(AbmError):
    """A run needs more memory or disk than the machine has."""


def _gib(n: float) -> str:
    """A size for a message: in GiB from 1 GiB up, else in MiB (never "0.0 GiB")."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.1f} MiB"


def available_memory() -> int | None:
    """Bytes of memory available to a new process (Linux ``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate(config: Config, fmt: str = "parquet", processes: int = 1) -> tuple[int, int]:
    """``(peak memory, output size)`` in bytes of running ``config`` and writing ``fmt``.

    A run of several shards holds one shard per process at a time (``abm.scale.sharding``).
    """
    n = config.population.num_patients
    in_memory = min(n, config.run.shard_patients) * (processes if n > config.run.shard_patients
                                                      else 1)
    return (processes * BASE_BYTES + PEAK_BYTES_PER_PATIENT_DAY * in_memory * config.run.days,
            OUTPUT_BYTES_PER_PATIENT_DAY.get(fmt, 450) * n * config.run.days)


def check_resources(config: Config, out: Path, fmt: str = "parquet", processes: int = 1) -> None:
    """Refuse a run whose estimated memory or disk need exceeds what is available."""
    memory, disk = estimate(config, fmt, processes)
    size = (f"{wording.plural(config.population.num_patients, 'patient')} x "
            f"{wording.plural(config.run.days, 'day')}")
    have = available_memory()
    if have is not None and memory > have:
        raise ResourceError(f"{size} needs about {_gib(memory)} of memory, but only "
                            f"{_gib(have)} is available; run fewer patients or days, or set a "
                            "smaller run.shard_patients")
    folder = out.absolute()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if disk > free:
        raise ResourceError(f"{size} writes about {_gib(disk)} as {fmt}, but {folder} has only "
                            f"{_gib(free)} free; choose another {wording.option('--out')} or a "
                            "smaller run")
