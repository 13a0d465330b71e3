"""What the parts of the model cost: the default model against variants with parts switched off.

Usage::

    python benchmarks/model_parts.py [--patients 10000] [--days 180] [--repeat 1]

For each variant it times ``abm.simulate`` and ``abm.write_outputs`` (Parquet, to a temporary
folder) in this process, best of ``--repeat``, and prints the wall time and patient-days per
second. The variants switch off, by configuration only, the parts that cost most: the coupling
of evening stress to the same night (which closes a loop with the night-to-next-day coupling,
so every feedback edit re-derives a night and the next day) and the observation layer.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import abm

#: variant -> the settings it changes
VARIANTS = {
    "default": {},
    "without the evening stress -> night coupling": {"couplings.stress_sleep.enabled": False},
    "without the observation layer": {"observation.enabled": False},
    "without both": {"couplings.stress_sleep.enabled": False, "observation.enabled": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    args = parser.parse_args()
    size = {"population.num_patients": args.patients, "run.days": args.days}
    print(f"| model ({args.patients} x {args.days}) | simulate s | write s | wall s | "
          "patient-days/s |")
    print("|---|---|---|---|---|")
    for name, changes in VARIANTS.items():
        config = abm.Config().replace(**size, **changes)
        best = None
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = abm.simulate(config)
            simulated = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                abm.write_outputs(result, f"{folder}/out")
            written = time.perf_counter()
            times = (simulated - started, written - simulated)
            if best is None or sum(times) < sum(best):
                best = times
        assert best is not None
        wall = sum(best)
        print(f"| {name} | {best[0]:.2f} | {best[1]:.2f} | {wall:.2f} | "
              f"{args.patients * args.days / wall:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
