"""Throughput, memory and start-up benchmark of ``abm``, against the performance targets.

Usage::

    python benchmarks/throughput.py [--sizes 1000x180,10000x180] [--repeat N] [--preset NAME]

``--preset population --sizes 10000x730`` measures two years of a population cohort with the
slow states (medication overuse, chronification) switched on.

What is measured, for each size ``PATIENTS x DAYS``:

1. **abm end to end**: the three stages of ``abm.simulate(config)`` (drawing and calibrating the
   cohort, the SimPy run, recording the frames), timed one by one, then ``abm.write_outputs(result,
   out, fmt="parquet")`` into a fresh temporary folder, in one process. Each size runs in its own
   fresh interpreter (``sys.executable`` running this file with a hidden ``--child`` option), so
   that the RSS high-water mark (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, KiB on Linux),
   read after the first run, is the peak of one run of that size alone (it includes the
   interpreter and the imports, which is what a user pays), and so that importing ``abm`` (with
   numpy, polars and simpy) is timed separately and kept out of the timed section. The run is
   repeated ``--repeat`` times; the table shows the best and the median wall time, patient-days
   per second of the best run, and the best run's stages.
   Creating and deleting the temporary folder is not timed.
2. **floors**, in the same child after the abm runs (and after the peak RSS has been read), each
   the best of ``--repeat``, printed beside the *budget* (the wall time a run of that size may
   take at the target rate):

   - the bare SimPy **skeleton**: one process per patient that does ``yield tick`` once a day and
     nothing else, and one clock process that every day replaces the shared ``env.event()`` and
     succeeds the old one; the floor of a design where every patient wakes up every day;
   - the **attack floor**: one process per patient that waits for one scheduled event on each of
     the onset days of the last abm run and does nothing else; SimPy's own cost of the design in
     which every attack is an event, set beside the abm run's SimPy stage (both per attack);
   - the **random floor**: drawing every component's random streams (``abm.engine.streams``)
     and nothing else.

   Only ``env.run()`` is timed for the SimPy floors.
3. **the default command**: wall time of ``abm run --out TMP/out`` as a subprocess (the console
   script installed beside the interpreter, else the one on PATH, else ``python -m abm run``),
   including interpreter start-up, imports,
   the default 1000 x 180 run and writing; best of ``--repeat``.

Targets (printed with PASS/MISS): >= 350,000 patient-days/s end to end at 10000x180 (best
run); the default ``abm run`` <= 1 s (best run); peak RSS at 10000x180 <= 1 GiB (1024 MiB).
Memory is reported in MiB (2**20 bytes).

The working copy is benchmarked: the folder above ``benchmarks/`` is put first on ``PYTHONPATH``
of every subprocess, so an older installed ``abm`` is not measured by mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_PDS = 350_000  # patient-days per second, end to end at 10000x180
TARGET_RUN_S = 1.0  # default `abm run`, seconds
TARGET_MIB = 1024  # peak RSS at 10000x180
TARGET_SIZE = (10_000, 180)


def parse_size(text: str) -> tuple[int, int]:
    """``"10000x180"`` -> ``(10000, 180)``."""
    patients, _, days = text.lower().partition("x")
    return int(patients), int(days)


def skeleton(patients: int, days: int) -> float:
    """Seconds of ``env.run()`` for ``patients`` processes waiting on a shared daily tick."""
    import simpy

    env = simpy.Environment()
    shared = {"tick": env.event()}

    def patient() -> Iterator[simpy.Event]:
        for _ in range(days):
            yield shared["tick"]

    def clock() -> Iterator[simpy.Event]:
        for _ in range(days):
            old, shared["tick"] = shared["tick"], env.event()
            old.succeed()
            yield env.timeout(1)

    for _ in range(patients):  # created before the clock, so all wait on day 0's tick
        env.process(patient())
    env.process(clock())
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


def attack_floor(onset_days: list[list[int]], days: int) -> float:
    """Seconds of ``env.run()`` for one process per patient that waits for one scheduled event on
    each of its onset days and does nothing else: SimPy's own cost of one event per attack, on
    the environment abm runs on (``DayClock``)."""
    import simpy

    from abm.engine.clock import DayClock, Phase, tick

    env = DayClock()

    def patient(onsets: list[int]) -> Iterator[simpy.Event]:
        for day in onsets:
            yield tick(env, day, Phase.ONSET)

    for onsets in onset_days:
        env.process(patient(onsets))
    started = time.perf_counter()
    env.run(until=days)
    return time.perf_counter() - started


def random_floor(config: Any) -> float:
    """Seconds to draw every random purpose of every component (daily, ``abm.engine.streams``)
    for every patient, and nothing else: an upper bound of what the run draws."""
    from abm.engine import streams
    from abm.engine.model import Model
    from abm.engine.simulation import BLOCK_PATIENTS
    from abm.model.attacks import AttackStreams

    owners = [*Model.build(config).components, AttackStreams]
    patients, days = config.population.num_patients, config.run.days
    started = time.perf_counter()
    for first in range(0, patients, BLOCK_PATIENTS):
        count = min(BLOCK_PATIENTS, patients - first)
        for owner in owners:
            for purpose in owner.purposes:
                streams.draw(config.run.seed, streams.PATIENT_DOMAIN, owner.name, purpose, first,
                             count, days)
    return time.perf_counter() - started


def child(patients: int, days: int, repeat: int, preset: str = "clinic") -> dict[str, Any]:
    """Body of the per-size subprocess: import, abm runs, peak RSS, then the floors."""
    import gc
    import resource

    started = time.perf_counter()
    import abm
    from abm.engine.model import Model
    from abm.engine.simulation import build_cohort, run_agents
    from abm.output.recorder import record

    import_s = time.perf_counter() - started
    config = abm.Config.from_dict({"population": {"preset": preset}}).replace(
        **{"population.num_patients": patients, "run.days": days})
    runs: list[list[float]] = []  # seconds of (draw, simulate, record, write)
    peak_mib = 0.0
    for _ in range(repeat):
        tmp = tempfile.mkdtemp(prefix="abm-bench-")
        try:
            # the three stages of abm.simulate(config) (keep in step with it), timed one by one,
            # then the writing
            t0 = time.perf_counter()
            cohort = build_cohort(Model.build(config))
            t1 = time.perf_counter()
            run_agents(cohort)
            t2 = time.perf_counter()
            result = record(cohort, release=True)
            onsets = cohort.onsets
            del cohort  # as in abm.simulate: the frames outlive the cohort
            t3 = time.perf_counter()
            abm.write_outputs(result, Path(tmp) / "out", fmt="parquet")
            runs.append([t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        del result
        gc.collect()
        # the peak of one run, as one `abm run` has it: read after the first (a later repeat
        # may reach higher only because the allocator kept the earlier run's memory apart)
        peak_mib = peak_mib or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"import_s": import_s, "runs": runs, "peak_mib": peak_mib,
            "attacks": sum(map(len, onsets)),
            "skeleton_s": min(skeleton(patients, days) for _ in range(repeat)),
            "attack_floor_s": min(attack_floor(onsets, days) for _ in range(repeat)),
            "random_floor_s": min(random_floor(config) for _ in range(repeat))}


def run_size(patients: int, days: int, repeat: int, env: dict[str, str],
             preset: str = "clinic") -> dict[str, Any] | str:
    """Run :func:`child` in a fresh interpreter; its figures, or the error as text."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", f"{patients}x{days}",
           "--repeat", str(repeat), "--preset", preset]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"exit {done.returncode}: {lines[-1] if lines else 'no output'}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_abm_run(repeat: int, env: dict[str, str]) -> tuple[float | None, str]:
    """Best wall time of the default ``abm run --out TMP/out``, or ``None`` and the error."""
    # The console script installed beside this interpreter (what a venv's `abm` is); a version
    # manager's shim in front of it would add its own start-up time to the measurement.
    script = Path(sys.executable).with_name("abm")
    exe = str(script) if script.is_file() else shutil.which("abm")
    base = [exe] if exe else [sys.executable, "-m", "abm"]
    best: float | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="abm-bench-") as tmp:
            started = time.perf_counter()
            try:
                done = subprocess.run([*base, "run", "--out", f"{tmp}/out"], env=env,
                                      capture_output=True, text=True, timeout=600, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return None, str(exc)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                lines = (done.stderr or done.stdout).strip().splitlines()
                return None, f"exit {done.returncode}: {lines[-1] if lines else 'no output'}"
        best = elapsed if best is None else min(best, elapsed)
    return best, "abm" if exe else "python -m abm"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000x180,10000x180",
                        help="comma-separated PATIENTSxDAYS (default 1000x180,10000x180)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--preset", default="clinic",
                        help="the cohort and model of the sized runs (default clinic; population "
                             "runs the slow states: medication overuse and chronification)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat = max(1, args.repeat)
    if args.child:
        print(json.dumps(child(*parse_size(args.child), repeat, args.preset)))
        return

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    print(f"abm throughput ({ROOT}), python {sys.version.split()[0]}, repeat {repeat}, "
          f"preset {args.preset}\n")
    head = (f"{'size':>11} {'import s':>8} {'best s':>7} {'median s':>8} {'draw s':>6} "
            f"{'sim s':>6} {'record s':>8} {'write s':>7} {'abm pd/s':>11} {'peak MiB':>8}")
    print(head)
    print("-" * len(head))
    figures: dict[tuple[int, int], tuple[float, float]] = {}  # size -> (abm pd/s, peak MiB)
    floors: list[str] = []
    for patients, days in sizes:
        r = run_size(patients, days, repeat, env, args.preset)
        if isinstance(r, str):
            print(f"{f'{patients}x{days}':>11} failed ({r})")
            continue
        runs: list[list[float]] = r["runs"]
        walls = [sum(stages) for stages in runs]
        best = min(walls)
        draw_s, sim_s, record_s, write_s = runs[walls.index(best)]
        pd = patients * days
        pds = pd / best
        figures[(patients, days)] = (pds, r["peak_mib"])
        print(f"{f'{patients}x{days}':>11} {r['import_s']:>8.2f} {best:>7.2f} "
              f"{statistics.median(walls):>8.2f} {draw_s:>6.2f} {sim_s:>6.2f} {record_s:>8.2f} "
              f"{write_s:>7.2f} {pds:>11,.0f} {r['peak_mib']:>8,.0f}")
        attacks = r["attacks"]
        floors.append(
            f"{f'{patients}x{days}':>11} {pd / TARGET_PDS:>9.2f} {r['skeleton_s']:>6.2f} "
            f"{pd / r['skeleton_s']:>11,.0f} {attacks:>9,} {r['attack_floor_s']:>8.2f} "
            f"{r['attack_floor_s'] / max(attacks, 1) * 1e6:>10.2f} {sim_s:>6.2f} "
            f"{sim_s / max(attacks, 1) * 1e6:>10.2f} {r['random_floor_s']:>8.2f}")

    # Floors: what parts of the work cost with no model at all, against the time a run may take
    # at the target rate. The skeleton wakes every patient every day; the attack floor is one
    # SimPy event per attack of the real run; the random floor draws the real run's numbers.
    head = (f"{'size':>11} {'budget s':>9} {'skel s':>6} {'skel pd/s':>11} {'attacks':>9} "
            f"{'attack s':>8} {'us/attack':>10} {'sim s':>6} {'us/attack':>10} {'random s':>8}")
    print(f"\nfloors (budget: the wall time allowed at {TARGET_PDS:,} patient-days/s; "
          "attack s: SimPy alone, one event per attack; sim s: the abm run's SimPy stage; "
          "random s: drawing the random numbers alone)")
    print(head)
    print("-" * len(head))
    print("\n".join(floors))

    run_s, how = time_abm_run(repeat, env)
    print()
    if run_s is None:
        print(f"abm run: unavailable ({how})")
    else:
        print(f"default `{how} run --out TMP/out` (1000x180, with start-up): best {run_s:.2f} s")

    label = f"{TARGET_SIZE[0]}x{TARGET_SIZE[1]}"
    at_target = figures.get(TARGET_SIZE)
    rows = [
        (f">= {TARGET_PDS:,} patient-days/s end to end at {label}",
         None if at_target is None else (f"{at_target[0]:,.0f}/s", at_target[0] >= TARGET_PDS)),
        (f"default abm run <= {TARGET_RUN_S:g} s",
         None if run_s is None else (f"{run_s:.2f} s", run_s <= TARGET_RUN_S)),
        (f"peak memory at {label} <= 1 GB ({TARGET_MIB} MiB)",
         None if at_target is None else (f"{at_target[1]:,.0f} MiB", at_target[1] <= TARGET_MIB)),
    ]
    print(f"\n{'target':<52} {'measured':>14}  result")
    for name, got in rows:
        measured, result = ("n/a", "n/a") if got is None else (got[0], verdict(got[1]))
        print(f"{name:<52} {measured:>14}  {result}")


if __name__ == "__main__":
    main()
