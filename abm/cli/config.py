"""The ``abm config`` command: a complete, commented configuration file to start from.

``abm config > cohort.toml`` gives every setting with its default, what it accepts and where the
default comes from (:mod:`abm.config.toml`); ``abm run --config cohort.toml`` reads it back to the
same configuration. ``--from`` starts from the configuration of an earlier run (its
``manifest.json``) or of a partial TOML file instead, so a run can be repeated or varied without
copying settings by hand. ``--out FILE`` writes the file whole or not at all, and replaces an
existing one only with ``--overwrite``, as every other ``abm`` writer does.

``abm.cli.app`` wires it with ``add_config_parser(sub)`` and ``run_config_command(args)``. Only
``argparse`` and ``pathlib`` load up front, so ``abm --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def add_config_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``config`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "config", help="print a complete, commented configuration file",
        description="Print every setting as TOML, each with what it accepts, its default and "
        "where the default comes from. Save it with 'abm config > cohort.toml' (or --out), "
        "edit it, and run it with 'abm run --config cohort.toml'; it reads back unchanged.")
    parser.add_argument("--from", dest="source", metavar="PATH", type=Path, default=None,
                        help="start from the configuration of an abm run output folder (its "
                        "manifest.json) or of a TOML configuration file, instead of the "
                        "defaults; settings it leaves out keep their defaults")
    parser.add_argument("--out", metavar="FILE", type=Path, default=None,
                        help="write to FILE instead of printing (whole or not at all); an "
                        "existing file is replaced only with --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out file")
    return parser


def source_config(path: Path) -> Any:
    """The configuration of an ``abm run`` output folder or a TOML configuration file."""
    from abm.config.settings import Config, load_config
    from abm.errors import ConfigError, InputError

    if not path.is_dir():
        return load_config(path)
    from abm.output.write import read_manifest

    manifest = read_manifest(path)
    try:
        return Config.from_dict(manifest["config"])
    except ConfigError as exc:
        raise InputError(f"{path / 'manifest.json'}: invalid configuration ({exc})") from None


def run_config_command(args: argparse.Namespace) -> int:
    """Run ``abm config``; return the exit status (0). Bad input raises AbmError."""
    from abm.config.settings import Config
    from abm.config.toml import to_toml
    from abm.output.files import check_file, write_file

    if args.out is not None:
        check_file(args.out, args.overwrite, "--out")
    config = source_config(args.source) if args.source is not None else Config()
    text = to_toml(config)
    if args.out is not None:
        write_file(args.out, lambda path: path.write_text(text, encoding="utf-8"))
        return 0
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # 'abm config | head': the reader stopped early; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
