"""Worker processes that stop the moment their run stops, and never outlive it.

The worker processes of a run (the local pool of :mod:`abm.scale.engines`, the experiment pool of
:mod:`abm.experiment`) are tied to the main process in three ways.

**Ctrl-C is the main process's business.** A terminal sends Ctrl-C (SIGINT) to every process of
the foreground job, workers included. A worker that reacted would print its own traceback and stop
on its own schedule, so workers ignore it and the main process, which knows what is finished, stops
them. Ignoring SIGINT in a worker's initializer comes too late for a Ctrl-C that arrives while the
worker is still starting (importing Polars takes a while), so local pool and LocalCluster workers
are also *started* with SIGINT blocked (:func:`deaf_children`): a new process inherits the signal
mask of the thread that starts it (and a new thread that of its creator, which covers the threads
Dask starts processes from), while in the main process a signal arriving meanwhile is held rather
than lost, and acted on as soon as the workers are started. (Experiment workers are forked by a
fork server, which does not pass the mask on; they ignore SIGINT from their initializer on.)

**A lifeline.** Each worker gets the read end of a pipe whose only write end the main process holds
(:class:`Lifeline`), and a watchdog thread in the worker waits on it (:func:`hold`). The main
process closes its end to stop every worker at once, whatever they are doing (Ctrl-C, SIGTERM, an
error): they exit within milliseconds instead of finishing their shards. When the main process
dies, even by SIGKILL (an out-of-memory killer, a closed terminal), the kernel closes the write end
and the workers exit the same way, so none is left running without its parent.

**A parent check.** The watchdog also looks every ``POLL_SECONDS`` whether the worker has been
handed to another parent (``os.getppid()`` changes when the parent dies). This needs no file
descriptor at all, so a worker stops within a second even if the pipe were ever held open by
mistake.

``prctl(PR_SET_PDEATHSIG)`` is not used: it is Linux only; it fires when the *thread* that started
the child ends rather than its process, and thread pools and Dask start processes from helper
threads, so it could kill a healthy worker; and under the forkserver start method the parent it
watches is the fork server, not the run. The pipe behaves the same under spawn and forkserver, on
every platform.

A worker stopped this way leaves at most a temporary file behind (:mod:`abm.output.files`): a shard
counts as done only once its marker is written, so ``--resume`` runs it again.

Dask's LocalCluster workers (:class:`abm.scale.engines.DaskEngine`) carry Dask's own version of the
lifeline: each holds a pipe from the main process and exits when it closes. On Ctrl-C,
:func:`stop_cluster_now` kills them at once rather than waiting for Dask's graceful shutdown.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

#: how often a worker's watchdog checks that its parent is still the one that started it
POLL_SECONDS = 0.5
#: exit status of a worker stopped by its lifeline (the main process knows why: it is stopping)
EXIT_STOPPED = 1


class Lifeline:
    """The main process's side: a pipe whose write end only this process holds.

    Pass :attr:`end` to each worker (an argument of its initializer) and call :func:`hold` there;
    :meth:`cut` stops all of them. The write end is never inherited (it is not passed to any
    child, and new file descriptors are not inheritable), so only this process keeps it open.
    """

    def __init__(self, context: Any) -> None:
        """``context``: the multiprocessing context the workers are started with."""
        self.end, self._writer = context.Pipe(duplex=False)

    def cut(self) -> None:
        """Stop every worker holding :attr:`end` (they exit within milliseconds)."""
        self._writer.close()

    def __enter__(self) -> Lifeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self.end.close()


def hold(end: Connection) -> None:
    """In a worker, from its initializer: ignore Ctrl-C and exit as soon as the main process
    cuts ``end`` or dies (see the module docstring)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while True:
            # readable means closed: nothing is ever written to the lifeline
            if wait([end], timeout=POLL_SECONDS) or os.getppid() != parent:
                os._exit(EXIT_STOPPED)

    threading.Thread(target=watch, name="abm-lifeline", daemon=True).start()


@contextmanager
def deaf_children() -> Iterator[None]:
    """Processes (and threads) started inside the block are born with Ctrl-C blocked.

    The calling thread blocks SIGINT while the block runs, and in the main thread Ctrl-C and
    SIGTERM are held until the block ends, so a process is never left half started: a signal
    that arrives meanwhile takes effect (KeyboardInterrupt, ...) as the block ends. Keep the block
    short: it should only start processes.
    """
    held: list[int] = []
    handlers: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) not in (signal.SIG_IGN, None):
                handlers[signum] = signal.signal(signum, lambda s, _frame: held.append(s))
    masked = hasattr(signal, "pthread_sigmask")  # POSIX: a new process inherits the mask
    if masked:
        # the resource tracker unblocks SIGINT in the thread that starts it: start it first
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a held SIGINT arrives here
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        if held:
            signal.raise_signal(held[0])  # now handled as usual


def stop_cluster_now(cluster: Any) -> None:
    """Kill the worker processes of a Dask LocalCluster that this process started, at once.

    Dask's own shutdown asks each worker to finish and waits seconds for the task it is running;
    a stopped run has no use for it. Each nanny is first told not to restart its worker.
    """
    for nanny in list(getattr(cluster, "workers", {}).values()):
        try:
            nanny.close_gracefully()  # Dask's word for "do not restart the worker"
            pid = nanny.pid
        except Exception:  # a nanny already gone has nothing to kill
            continue
        if pid:
            try:
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            except (ProcessLookupError, PermissionError):
                pass
