"""Where the shards of a run are simulated: this process, local worker processes, or Dask.

Every engine runs :func:`abm.scale.sharding.run_shard` on the shards it is given and reports each
finished shard's marker as it arrives. The data cannot depend on the engine: shards are fixed by
the configuration and each one writes its own part files.

- :class:`LocalEngine` with one worker runs shards one after the other in this process; with more
  it uses a pool of worker processes (started with ``spawn``, which is safe with Polars' threads).
  A worker that dies (killed, out of memory) breaks the pool: the shards that did not finish are
  run again on a new pool, up to ``RETRIES`` times each.
- :class:`DaskEngine` submits the shards to a Dask distributed cluster (``--scheduler ADDRESS``),
  or to a ``LocalCluster`` it starts (``--scheduler local``). Dask reschedules the shards of a lost
  worker itself; each task may also be retried ``RETRIES`` times. The workers must see the output
  folder (the same file system). Dask is an optional extra: ``pip install -e '.[dask]'``.

Ctrl-C, SIGTERM or an error stops the workers at once instead of letting them finish their shards,
and workers never outlive the main process, even when it is killed (:mod:`abm.lifeline`): local
pool workers hold its lifeline, and a LocalCluster's workers are killed on the spot (Dask's own
pipe to the main process ends them if it dies). Shards under way are dropped; ``--resume`` runs
them again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

from abm.config.settings import Config
from abm.errors import AbmError
from abm.scale.lifeline import Lifeline, deaf_children, hold, stop_cluster_now
from abm.scale.mainguard import check_main_guard, in_bootstrap
from abm.scale.sharding import Shard, run_shard
from abm.wording import plural

RETRIES = 2
OnDone = Callable[[dict], None]


class EngineError(AbmError):
    """The engine cannot run (missing package, unreachable scheduler, a shard kept failing)."""


def cores() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """A sensible number of local workers: one per core, at most 8."""
    return min(8, cores())


def polars_threads(workers: int) -> str:
    """Polars threads for each of ``workers`` processes: the cores shared out among them, so
    they do not fight over the cores (at least one each)."""
    return str(max(1, cores() // workers))


def share_cores(threads: str) -> None:
    """Worker start-up, before Polars is imported: keep Polars to ``threads`` threads."""
    os.environ.setdefault("POLARS_MAX_THREADS", threads)


class LocalEngine:
    """Shards in this process (``workers == 1``) or on a pool of local worker processes."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def run(self, config: Config, shards: Sequence[Shard], staging: str, fmt: str,
            on_done: OnDone) -> None:
        if self.workers == 1:
            for shard in shards:
                on_done(run_shard(config, shard, staging, fmt))
            return
        if in_bootstrap():  # a worker re-running an unguarded script: the parent explains
            raise SystemExit(1)
        attempts = dict.fromkeys((s.index for s in shards), 0)
        pending = list(shards)
        context = multiprocessing.get_context("spawn")
        with Lifeline(context) as line:
            while pending:
                broken = self._pool(config, pending, staging, fmt, on_done, context, line)
                for shard in broken:
                    attempts[shard.index] += 1
                    if attempts[shard.index] > RETRIES:
                        raise EngineError(f"shard {shard.index} (patients {shard.first}-"
                                          f"{shard.first + shard.count - 1}) failed "
                                          f"{plural(attempts[shard.index], 'time')}: its worker "
                                          "process died")
                pending = broken

    def _pool(self, config: Config, shards: Sequence[Shard], staging: str, fmt: str,
              on_done: OnDone, context: Any, line: Lifeline) -> list[Shard]:
        """Run ``shards`` on one pool; return those whose worker died. On any exception
        (Ctrl-C included) the workers are stopped at once, not left to finish their shards."""
        broken: list[Shard] = []
        processes = min(self.workers, len(shards))
        pool = ProcessPoolExecutor(max_workers=processes, mp_context=context,
                                   initializer=_start_worker,
                                   initargs=(polars_threads(processes), line.end))
        try:
            with deaf_children():
                futures = {pool.submit(run_shard, config, s, staging, fmt): s for s in shards}
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    shard = futures.pop(future)
                    try:
                        on_done(future.result())
                    except BrokenProcessPool:
                        check_main_guard(f"a sharded run on {self.workers} workers")
                        broken.append(shard)
        except BaseException:
            line.cut()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return broken


def _start_worker(threads: str, line: Connection) -> None:
    """Initializer of a local pool worker: its share of the cores, and its lifeline."""
    share_cores(threads)
    hold(line)


class DaskEngine:
    """Shards on a Dask distributed cluster: an address, or ``"local"`` for a LocalCluster."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers

    def run(self, config: Config, shards: Sequence[Shard], staging: str, fmt: str,
            on_done: OnDone) -> None:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise EngineError("--scheduler needs Dask distributed, which is not installed: "
                              "pip install -e '.[dask]'") from None
        # Dask logs the comms it closes when a run is interrupted at INFO level, with their
        # tracebacks: a user who pressed Ctrl-C gets one line from abm, not Dask's internals
        quiet = logging.getLogger("distributed")
        if quiet.getEffectiveLevel() < logging.ERROR:
            quiet.setLevel(logging.ERROR)
        cluster = None
        try:
            if self.address == "local":
                workers = self.workers or default_workers()
                with deaf_children():  # Ctrl-C is for this process, which stops the workers
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=logging.ERROR,
                                           env={"POLARS_MAX_THREADS": polars_threads(workers)})
                client = Client(cluster)
            else:
                try:
                    client = Client(self.address, timeout="10s")
                except (OSError, TimeoutError) as exc:
                    raise EngineError(f"--scheduler {self.address}: cannot connect ({exc})") \
                        from None
            with client:
                futures = [client.submit(run_shard, config, shard, staging, fmt, pure=False,
                                         retries=RETRIES, key=f"abm-shard-{shard.index}-"
                                         f"{os.getpid()}")
                           for shard in shards]
                for future in as_completed(futures):
                    on_done(future.result())
        except BaseException:
            # the workers of our own cluster stop now rather than finish their shards; a remote
            # cluster forgets the shards still queued when the client closes
            if cluster is not None:
                stop_cluster_now(cluster)
            raise
        finally:
            if cluster is not None:
                cluster.close()
