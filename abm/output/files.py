"""Files and folders written whole or not at all, and the checksums that prove it.

Every writer of ``abm`` (runs, sharded runs, experiments, exports) follows the same rules: check
the target before any work, write under a temporary name beside it, and rename the complete file
or folder into place; an earlier output is replaced only at that last moment. These are the
shared pieces.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from abm import wording
from abm.errors import OutputError


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: Path) -> dict:
    """What a manifest records of a file: its SHA-256 and size."""
    return {"sha256": sha256(path), "bytes": path.stat().st_size}


def writable_parent(path: Path) -> Path:
    """The nearest existing folder above ``path``; refused if it is a file or not writable.

    Permission bits do not tell the whole story: root may write anywhere by them, yet not into
    ``/sys`` or a read-only mount. So a hidden folder is made there and removed at once, the same
    operation a writer starts with; a failure is reported as what it is, before any work.
    """
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot be created, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: folder is not writable")
    probe = parent / f".abm-probe{PARTIAL}{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
    except OSError as exc:
        raise OutputError(f"{parent}: folder is not writable ({exc.strerror or exc})") from None
    probe.rmdir()
    return parent


#: what every temporary name beside a target has in it (a killed writer can leave one behind)
PARTIAL = ".abm-partial-"


def _beside(path: Path, tag: str = PARTIAL) -> Path:
    """A hidden, unique name beside ``path``: ``.NAME<tag>XXXXXXXXXXXX``."""
    return path.absolute().parent / f".{path.name}{tag}{uuid.uuid4().hex[:12]}"


def is_partial(path: Path) -> bool:
    """Whether ``path`` is a temporary name of :func:`write_atomic` or :func:`write_folder`."""
    return path.name.startswith(".") and PARTIAL in path.name


def check_folder(target: Path, overwrite: bool, option: str,
                 foreign: Callable[[list[str]], str | None]) -> None:
    """Refuse, before any work, a folder target that is a file, holds data without
    ``overwrite``, or holds data that ``foreign(entries)`` does not recognise as an earlier
    output of the same kind (it returns what to say about it, or ``None``); and a target whose
    nearest existing folder is not writable."""
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: is a file; {wording.option(option)} must be a folder")
    entries = [p.name for p in target.iterdir()] if target.is_dir() else []
    if entries:
        if not overwrite:
            raise OutputError(f"{target}: already holds data; pass "
                              f"{wording.switch('--overwrite')} to replace it")
        complaint = foreign(entries)
        if complaint:
            raise OutputError(f"{target}: {complaint}; choose another folder")
    writable_parent(target)


def check_file(target: Path, overwrite: bool, option: str) -> None:
    """Refuse, before any work, a file target that is a folder, exists without ``overwrite``,
    or cannot be made; ``option`` is what names the target (``--to``)."""
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; {wording.option(option)} must name a file")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; pass {wording.switch('--overwrite')} to "
                          "replace it")
    writable_parent(target)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through ``write(temporary_path)``, then rename it to ``path``."""
    tmp = _beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def swap_into_place(staging: Path, out: Path) -> None:
    """Rename a finished staging folder to ``out``; an earlier output there is removed last."""
    if out.is_dir() and any(out.iterdir()):
        old = _beside(out, ".abm-old-")
        os.rename(out, old)
        try:
            os.rename(staging, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    if out.is_dir():
        out.rmdir()
    os.rename(staging, out)


def _missing_parents(path: Path) -> list[Path]:
    """Folders above ``path`` that do not exist yet, outermost first."""
    missing, parent = [], path.absolute().parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing[::-1]


def _remove_empty(folders: Iterable[Path]) -> None:
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass


def _write_failed(exc: OSError, target: Path) -> OutputError:
    """The one-line error of a write that failed (disk full, permission lost, ...)."""
    return OutputError(f"{exc.filename or target}: could not write ({exc.strerror or exc}); "
                       "nothing was written or changed")


def write_folder(target: Path, fill: Callable[[Path], None]) -> None:
    """Call ``fill(staging)`` on a new hidden folder beside ``target``, then rename it into
    place; an earlier ``target`` is removed only once the new one is complete. On any failure
    the staging folder, and the parent folders made for it, are removed."""
    made = _missing_parents(target)
    staging = _beside(target)
    try:
        staging.mkdir(parents=True)
        fill(staging)
        swap_into_place(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(made)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _write_failed(exc, target) from None
        raise


def write_file(target: Path, write: Callable[[Path], None]) -> None:
    """:func:`write_atomic` for a user's target: the folders it needs are made, and removed
    again with a one-line error if the write fails."""
    made = _missing_parents(target)
    try:
        target.absolute().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target.absolute(), write)
    except BaseException as exc:
        _remove_empty(made)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _write_failed(exc, target) from None
        raise
