"""The READMEs' examples run as written, so the documentation cannot drift from the code.

From the Markdown of README.md and README_experiments.md this module extracts

- every fenced ``python`` snippet, and runs it as a script in a subprocess;
- every command line of the fenced ``bash`` blocks (``abm ...``, ``python experiments/...``;
  ``a && b`` is two commands, ``a > FILE`` writes a's output to FILE), and runs it in a
  subprocess;
- every fenced ``toml`` block, and loads it as a configuration or an experiment file;
- every inline ``abm ...`` span, and checks that its options exist.

Each README runs in a working folder of its own, a copy of the repository's tracked files (so
``experiments/feedback.toml`` and the scripts are where the README says), in document order:
later examples read what earlier ones wrote (``abm run`` writes ``out``, ``abm export`` reads
it). A test of a single example (``pytest -k``) first runs the examples before it. At the end,
everything the examples wrote must be ignored by git (.gitignore), since a reader runs them in a
clone.

The examples run at a reduced size, changed in the extracted text by the tables below and by
nothing else: no environment variable or hidden option changes what a command does. The
subprocesses get ``PYTHONPATH`` = this checkout, so that ``abm`` is the code under test whether or
not it is installed; ``abm`` runs as ``python -m abm`` and ``python`` as this interpreter.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "README_experiments.md")
TIMEOUT = 300

# --- what is changed, skipped or expected to fail, in one place ------------------------------

#: Size options the commands are run with: appended, or replacing the value the README shows. A
#: README command simulates up to 1,000,000 patients; these are the commands' own size options.
COMMAND_SIZES: dict[tuple[str, ...], dict[str, str]] = {
    ("abm", "run"): {"--patients": "20", "--days": "30"},
    ("abm", "experiment"): {"--patients": "20", "--days": "30", "--replicates": "2"},
    ("python", "experiments/"): {"--patients": "20", "--days": "30", "--replicates": "2"},
}
#: An ``abm run`` of more patients than a shard (run.shard_patients, 10,000) is written as part
#: files, which the Large runs snippet reads: such a run keeps one patient more than a shard.
SHARDED_RUN = {"--patients": "10001", "--days": "3"}
SHARD_PATIENTS = 10_000

#: Size changes in the Python snippets: (README text, replacement). Each must still match.
SNIPPET_SIZES: tuple[tuple[str, str], ...] = (
    # README_experiments.md, Python API: 5 replicates of 1000 patients x 180 days
    ('"population.num_patients": 1000, "run.days": 180', '"population.num_patients": 20, '
                                                         '"run.days": 30'),
    ("replicates=5", "replicates=2"),
    # README.md, the original entry point: 1000 patients x 180 days of CSV files
    ("num_patients=1000, days=180", "num_patients=20, days=30"),
)

#: Commands not run, and why. Each must still be in a README.
SKIPPED: dict[str, str] = {
    # installing would change the environment the tests run in; they run this checkout
    "pip install -e .": "installs the package; the test runs this checkout",
    "pip install -e '.[test]'": "installs the test dependencies the test already runs with",
    "pip install -e '.[dask]'": "installs Dask, which the test dependencies already include",
    # the test suite, which this test is part of
    "python -m pytest": "runs the test suite, which this test is part of",
    # needs a running Dask scheduler at that address; the LocalCluster line before it runs
    "abm run --patients 1000000 --out huge --scheduler tcp://scheduler:8786":
        "needs a Dask cluster at tcp://scheduler:8786",
    # finishes an interrupted run and, by design, refuses a complete one; tests/test_sharding.py
    # interrupts runs and resumes them
    "abm run --patients 1000000 --out huge --resume":
        "resumes an interrupted run (tests/test_sharding.py interrupts and resumes runs)",
}

# --- extraction -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    """One runnable example: a command or a snippet, where it is and what it says."""

    readme: str
    line: int
    section: str
    kind: str                    # "shell" or "python"
    text: str                    # the command (shlex-joined) or the snippet, as written
    argv: tuple[str, ...] = ()   # the command's words

    @property
    def id(self) -> str:
        first = self.text.strip().splitlines()[0]
        return f"{self.readme}:{self.line}:{first[:60]}"


@dataclass
class Block:
    readme: str
    line: int                    # line of the opening fence, 1-based
    section: str
    language: str
    lines: list[str] = field(default_factory=list)


def blocks(readme: str) -> list[Block]:
    """The fenced blocks of a README, with the ``##`` section each is under."""
    found: list[Block] = []
    section = ""
    current: Block | None = None
    for number, line in enumerate((ROOT / readme).read_text(encoding="utf-8").splitlines(), 1):
        if current is not None:
            if line.startswith("```"):
                found.append(current)
                current = None
            else:
                current.lines.append(line)
        elif line.startswith("```"):
            current = Block(readme, number, section, line[3:].strip().lower())
        elif line.startswith("## "):
            section = line[3:].strip()
    return found


def examples(readme: str) -> list[Example]:
    """The commands and snippets of a README, in document order."""
    out: list[Example] = []
    for block in blocks(readme):
        if block.language == "python":
            out.append(Example(readme, block.line, block.section, "python",
                               "\n".join(block.lines) + "\n"))
        elif block.language in ("bash", "sh", "shell", "console"):
            for offset, line in enumerate(block.lines, 1):
                words = shlex.split(line.removeprefix("$ "), comments=True)
                while words:
                    end = words.index("&&") if "&&" in words else len(words)
                    command, words = words[:end], words[end + 1:]
                    out.append(Example(readme, block.line + offset, block.section, "shell",
                                       shlex.join(command), tuple(command)))
    return out


ALL = [e for readme in READMES for e in examples(readme)]


# --- what is run ------------------------------------------------------------------------------

def _set_options(argv: list[str], options: dict[str, str]) -> list[str]:
    argv = list(argv)
    for option, value in options.items():
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    return argv


def command_to_run(example: Example, cwd: Path) -> list[str]:
    """The command at its reduced size, as an argument list for this interpreter."""
    argv = list(example.argv)
    assert not {"|", "<", ">>", ";"} & set(argv), f"{example.id}: add a rule for this shell syntax"
    redirect = argv[argv.index(">"):] if ">" in argv else []
    argv = argv[:len(argv) - len(redirect)]
    for prefix, options in COMMAND_SIZES.items():
        if tuple(argv[:len(prefix) - 1]) == prefix[:-1] and len(argv) >= len(prefix) \
                and argv[len(prefix) - 1].startswith(prefix[-1]):
            sharded = prefix == ("abm", "run") and "--patients" in argv and \
                int(argv[argv.index("--patients") + 1]) > SHARD_PATIENTS
            argv = _set_options(argv, SHARDED_RUN if sharded else options)
    # a block lists alternatives that write the same place (abm run, then abm run --workers 2):
    # a reader runs one, the test runs each, so a later one replaces what an earlier one wrote
    if argv[:2] == ["abm", "run"] or argv[:2] == ["abm", "export"]:
        option = "--out" if argv[1] == "run" else "--to"
        target = argv[argv.index(option) + 1] if option in argv else "out"
        if (cwd / target).exists() and "--overwrite" not in argv:
            argv.append("--overwrite")
    if argv[0] == "abm":
        return [sys.executable, "-m", "abm", *argv[1:], *redirect]
    if argv[0] == "python":
        return [sys.executable, *argv[1:], *redirect]
    raise AssertionError(f"{example.id}: no rule to run {argv[0]!r}; add one or skip it")


def snippet_to_run(example: Example) -> str:
    text = example.text
    for written, reduced in SNIPPET_SIZES:
        text = text.replace(written, reduced)
    return text


def _environment() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path}


def _copy_repository(target: Path) -> set[Path]:
    """The tracked files of the repository, without the package and its tests, into
    ``target``; returns what was copied (relative paths)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True, timeout=60).stdout.decode().split("\0")
        files = [Path(f) for f in listed if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(ROOT) for p in ROOT.rglob("*") if p.is_file()
                 and not {".git", "__pycache__"} & set(p.relative_to(ROOT).parts)]
    copied = set()
    for relative in files:
        if relative.parts[0] in ("abm", "tests", ".git") or not (ROOT / relative).is_file():
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target / relative)
        copied.add(relative)
    return copied


class Session:
    """One README's working folder and the examples run in it so far."""

    def __init__(self, readme: str, folder: Path, scripts: Path) -> None:
        self.readme = readme
        self.folder = folder
        self.scripts = scripts
        self.copied = _copy_repository(folder)
        self.examples = [e for e in ALL if e.readme == readme]
        self.done: dict[Example, subprocess.CompletedProcess[str] | None] = {}

    def run(self, example: Example) -> subprocess.CompletedProcess[str] | None:
        """Run ``example`` after every example before it that has not run (None: skipped)."""
        for earlier in self.examples[:self.examples.index(example) + 1]:
            if earlier not in self.done:
                self.done[earlier] = self._run(earlier)
        return self.done[example]

    def _run(self, example: Example) -> subprocess.CompletedProcess[str] | None:
        output = None
        if example.kind == "shell":
            if example.text in SKIPPED:
                return None
            argv = command_to_run(example, self.folder)
            if ">" in argv:                  # abm config > cohort.toml: stdout to a file
                at = argv.index(">")
                argv, output = argv[:at], self.folder / argv[at + 1]
        else:
            script = self.scripts / f"{Path(example.readme).stem}_{example.line}.py"
            script.write_text(snippet_to_run(example), encoding="utf-8")
            argv = [sys.executable, str(script)]
        done = subprocess.run(argv, cwd=self.folder, env=_environment(), text=True,
                              capture_output=True, timeout=TIMEOUT)
        if output is not None:
            output.write_text(done.stdout, encoding="utf-8")
        return done


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Session]:
    return {readme: Session(readme, tmp_path_factory.mktemp(Path(readme).stem),
                            tmp_path_factory.mktemp(f"{Path(readme).stem}-snippets"))
            for readme in READMES}


def _param(example: Example) -> object:
    marks = []
    if example.kind == "shell" and example.text in SKIPPED:
        marks.append(pytest.mark.skip(reason=SKIPPED[example.text]))
    return pytest.param(example, marks=marks, id=example.id)


# --- the tests --------------------------------------------------------------------------------

@pytest.mark.parametrize("example", [_param(e) for e in ALL])
def test_example_runs(example: Example, sessions: dict[str, Session]) -> None:
    done = sessions[example.readme].run(example)
    assert done is not None
    assert done.returncode == 0, (
        f"{example.id} failed (exit {done.returncode}); ran {done.args}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


@pytest.mark.parametrize("readme", READMES)
def test_what_the_examples_write_is_git_ignored(readme: str,
                                                sessions: dict[str, Session]) -> None:
    session = sessions[readme]
    session.run(session.examples[-1])
    written: list[str] = []

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            relative = path.relative_to(session.folder)
            if any(c == relative or relative in c.parents for c in session.copied):
                if path.is_dir():
                    walk(path)
            else:
                written.append(f"{relative}/" if path.is_dir() else str(relative))

    walk(session.folder)
    assert written, "the examples wrote nothing?"
    checked = subprocess.run(["git", "check-ignore", "--no-index", "--verbose",
                              "--non-matching", "--stdin"], cwd=ROOT, text=True,
                             input="\n".join(written) + "\n", capture_output=True, timeout=60)
    if checked.returncode not in (0, 1):
        pytest.skip(f"git check-ignore is not available: {checked.stderr.strip()}")
    missing = [line.split("\t", 1)[1] for line in checked.stdout.splitlines()
               if line.startswith("::")]
    assert not missing, f"{readme}'s examples write {missing}, which .gitignore does not cover"


def test_the_tables_of_this_module_are_current() -> None:
    commands = {e.text for e in ALL if e.kind == "shell"}
    snippets = [e.text for e in ALL if e.kind == "python"]
    stale = [c for c in SKIPPED if c not in commands]
    assert not stale, f"SKIPPED lists commands no README has any more: {stale}"
    stale = [w for w, _ in SNIPPET_SIZES if not any(w in s for s in snippets)]
    assert not stale, f"SNIPPET_SIZES changes text no snippet has any more: {stale}"
    for example in ALL:
        if example.kind == "shell" and example.text not in SKIPPED:
            command_to_run(example, ROOT / "nowhere")      # a rule exists for every command


@pytest.mark.parametrize("block", [b for r in READMES for b in blocks(r) if b.language == "toml"],
                         ids=lambda b: f"{b.readme}:{b.line}")
def test_toml_examples_load(block: Block, tmp_path: Path) -> None:
    from abm.config.settings import load_config
    from abm.experiments.experiment import load_experiment

    path = tmp_path / "example.toml"
    path.write_text("\n".join(block.lines) + "\n", encoding="utf-8")
    if "[variants." in path.read_text(encoding="utf-8"):
        assert load_experiment(path).variants
    else:
        load_config(path)


def _inline_commands() -> list[tuple[str, str]]:
    """Inline ``abm ...`` spans outside fenced blocks: ``(readme, span)``."""
    found = []
    for readme in READMES:
        text = (ROOT / readme).read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        for span in re.findall(r"`([^`]+)`", text):
            for part in span.split("&&"):
                part = " ".join(part.split())
                # a quoted message ("abm run: ...") is output, not a command
                if (part.startswith("abm ") or part == "abm") and not re.match(
                        r"abm( [\w-]+)?:", part):
                    found.append((readme, part))
    return found


@pytest.mark.parametrize(("readme", "span"), _inline_commands(),
                         ids=[f"{r}:{s[:50]}" for r, s in _inline_commands()])
def test_inline_commands_name_existing_options(readme: str, span: str) -> None:
    from abm.cli.app import build_parser

    parser: argparse.ArgumentParser = build_parser()
    words = span.replace("[", " ").replace("]", " ").replace("|", " ").split()[1:]
    for word in words:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subparsers and word in subparsers[0].choices:
            parser = subparsers[0].choices[word]
    for word in words:
        if word.startswith("--"):
            assert word in parser._option_string_actions, \
                f"{readme}: `{span}` names {word}, which {parser.prog} does not have"
