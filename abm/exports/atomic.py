"""Reading an ``abm run`` folder, and checking an export's target before any work.

Exports follow the rules of ``abm.output.files`` shared by every writer: every target is checked
before any work is done (an existing target is replaced only with ``overwrite``; a folder holding
anything else is never replaced), and the writing itself (``abm.output.files.write_file`` and
``write_folder``) renames only a complete file or folder into place, so an interrupted or failed
export leaves no partial file and keeps an earlier one intact.

A target may not lie inside the source folder: its ``manifest.json`` lists every file the folder
holds, and a foreign file would make ``abm validate`` and every later export refuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from abm import wording
from abm.config.settings import Config
from abm.errors import InputError, OutputError
from abm.output.files import check_file, check_folder
from abm.output.write import read_manifest, read_run

#: formats of ``abm run`` that can be exported (seed-csv does not hold the event log)
READABLE = ("parquet", "csv")


def load_run(folder: Path) -> tuple[dict[str, pl.DataFrame], Config, Any]:
    """The frames, configuration and model of an ``abm run`` folder, checksums verified (the
    model declares the components that made it: ``abm.output.write.read_run``)."""
    manifest = read_manifest(folder)
    if manifest["format"] not in READABLE:
        raise InputError(f"{folder}: a {manifest['format']!r} output cannot be exported; "
                         "write it with abm run --format parquet or csv")
    return read_run(folder)


def check_outside(target: Path, source: Path, option: str) -> None:
    """Refuse a target inside the source folder (or the source folder itself)."""
    if target.absolute().resolve().is_relative_to(source.absolute().resolve()):
        raise OutputError(f"{target}: {wording.option(option)} must be outside the abm output "
                          f"folder {source} (its manifest lists every file it may hold)")


def check_file_target(target: Path, overwrite: bool, option: str = "--to") -> None:
    """Refuse a file target that is a folder, exists without ``overwrite`` or cannot be made."""
    check_file(target, overwrite, option)


def check_folder_target(target: Path, overwrite: bool, ours: Callable[[str], bool],
                        marker: str, option: str = "--to") -> None:
    """Refuse a folder target that is a file, holds data without ``overwrite``, or is not an
    earlier export: one without the ``marker`` file, or with any file ``ours`` does not
    recognise as written by this export."""
    def foreign(entries: list[str]) -> str | None:
        names = sorted(name for name in entries if not ours(name))
        if marker not in entries:
            names = names or sorted(entries)
        return f"holds files this export did not write ({names[0]})" if names else None

    check_folder(target, overwrite, option, foreign)
