"""Scale-out benchmark: large cohorts on local worker processes and on a Dask LocalCluster.

Usage::

    python benchmarks/scale.py [--sizes 100000x180,1000000x180] [--runs local1,local2,dask2]

For each size and each run (``localK``: ``abm run --workers K``; ``daskK``: ``abm run
--scheduler local --workers K``) it runs the command as a user would, in a fresh process writing
Parquet to a temporary folder, and prints: wall time; CPU time (user + system seconds of the
command and every worker process it waited for, from ``getrusage(RUSAGE_CHILDREN)``) and the
cores kept busy (CPU over wall); patient-days per second; peak memory of the whole process tree
(the sum of the resident memory of the command and all its descendants, sampled every 0.2 s from
/proc); and the size of the output. It then prints the speed-up of two local workers over one and
of Dask over local processes, against the targets: 1,000,000 x 180 in at most 10 minutes with
peak memory at most 4 GB; 2 workers at least 1.7 times faster than 1. Beside the speed-up it
prints the most two cores allow: one worker's wall time over half the CPU time of the two-worker
run (the speed-up if both cores were busy from start to end with the work that run did).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
        todo += tree.get(pid, [])
    return total


def measure(patients: int, days: int, run: str, folder: Path) -> dict:
    """Run one ``abm run`` and measure it."""
    out = folder / f"out-{run}"
    engine = (["--scheduler", "local", "--workers", run[4:]] if run.startswith("dask")
              else ["--workers", run[5:]])
    cmd = [sys.executable, "-m", "abm", "run", "--patients", str(patients), "--days", str(days),
           "--out", str(out), "--quiet", *engine]
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    peak = 0
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.strip()}")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return {"run": run, "wall": wall, "cpu": cpu, "pds": patients * days / wall, "peak": peak,
            "size": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000x180,1000000x180")
    parser.add_argument("--runs", default="local1,local2,dask2")
    args = parser.parse_args()
    print(f"abm scale-out ({ROOT}), {os.cpu_count()} cores\n")
    print(f"{'size':>12} {'run':>7} {'wall s':>9} {'CPU s':>8} {'cores':>6} "
          f"{'patient-days/s':>15} {'peak MB':>9} {'output MB':>10}")
    for size in args.sizes.split(","):
        patients, days = (int(x) for x in size.lower().split("x"))
        results = {}
        with tempfile.TemporaryDirectory(prefix="abm-scale-") as tmp:
            for run in args.runs.split(","):
                r = measure(patients, days, run, Path(tmp))
                results[run] = r
                print(f"{size:>12} {run:>7} {r['wall']:9.1f} {r['cpu']:8.1f} "
                      f"{r['cpu'] / r['wall']:6.2f} {r['pds']:15,.0f} "
                      f"{r['peak'] / 1e6:9,.0f} {r['size'] / 1e6:10,.0f}", flush=True)
        if "local1" in results and "local2" in results:
            one, two = results["local1"], results["local2"]
            speedup = one["wall"] / two["wall"]
            # the speed-up two workers would reach if they kept both cores busy with the work
            # they did (their CPU seconds over 2): the most 2 cores allow
            ceiling = one["wall"] / (two["cpu"] / 2)
            print(f"{'':>12} speed-up of 2 workers over 1: {speedup:.2f}x (target >= 1.7x: "
                  f"{'PASS' if speedup >= 1.7 else 'MISS'}); with both cores busy all the time "
                  f"it would be {ceiling:.2f}x (one process keeps {one['cpu'] / one['wall']:.2f} "
                  "cores busy)")
        if "dask2" in results and "local2" in results:
            ratio = results["local2"]["wall"] / results["dask2"]["wall"]
            print(f"{'':>12} Dask LocalCluster (2 workers) speed relative to local 2 workers: "
                  f"{ratio:.2f}x")
        if patients >= 1_000_000:
            best = min(results.values(), key=lambda r: r["wall"])
            ok = best["wall"] <= 600 and best["peak"] <= 4e9
            print(f"{'':>12} target 1,000,000 x 180 in <= 10 min with <= 4 GB: "
                  f"{best['wall'] / 60:.1f} min, {best['peak'] / 1e9:.2f} GB "
                  f"({'PASS' if ok else 'MISS'})")
        print()


if __name__ == "__main__":
    main()
