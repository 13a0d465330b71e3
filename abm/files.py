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
from collections.abc import Callable
from pathlib import Path

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
    """The nearest existing folder above ``path``; refused if it is a file or not writable."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot be created, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: folder is not writable")
    return parent


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through ``write(temporary_path)``, then rename it to ``path``."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def swap_into_place(staging: Path, out: Path) -> None:
    """Rename a finished staging folder to ``out``; an earlier output there is removed last."""
    if out.is_dir() and any(out.iterdir()):
        old = out.absolute().parent / f".{out.name}.abm-old-{uuid.uuid4().hex[:12]}"
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
