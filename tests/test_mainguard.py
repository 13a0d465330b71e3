"""A script that starts worker pools from its top level, outside ``if __name__ == "__main__":``,
gets one line saying what to change instead of ``BrokenProcessPool`` and a traceback per worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from abm.scale.mainguard import _guarded

ROOT = Path(__file__).resolve().parents[1]

EXPERIMENT = """\
from abm import Config
from abm.experiments.experiment import Experiment, run_experiment

def main():
    experiment = Experiment(
        name="tiny", variants={"off": {"feedback.stress.enabled": False}, "on": {}},
        base=Config().replace(**{"population.num_patients": 8, "run.days": 10}),
        replicates=1, metrics=("migraine_days",))
    run_experiment(experiment, workers=2, progress=False)
    print("finished")
"""

SHARDED = """\
from pathlib import Path
from abm import Config
from abm.scale.engines import LocalEngine
from abm.scale.sharding import run_sharded

def main():
    config = Config().replace(**{"population.num_patients": 6, "run.days": 5,
                                 "run.shard_patients": 3})
    run_sharded(config, Path("sharded"), "parquet", LocalEngine(2))
    print("finished")
"""


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(source, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("body", [EXPERIMENT, SHARDED], ids=["experiment", "sharded-run"])
def test_unguarded_script_gets_one_line_naming_the_fix(tmp_path: Path, body: str) -> None:
    done = _run(tmp_path, body + "\nmain()\n")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("abm.errors.MainGuardError: script.py, line ")
    assert last.endswith('put the script\'s top-level code under if __name__ == "__main__":')
    # the workers exit quietly: no traceback of theirs, no BrokenProcessPool chained above
    assert "bootstrapping phase" not in done.stderr
    assert "BrokenProcessPool" not in done.stderr
    assert "finished" not in done.stdout


@pytest.mark.parametrize("body", [EXPERIMENT, SHARDED], ids=["experiment", "sharded-run"])
def test_guarded_script_runs(tmp_path: Path, body: str) -> None:
    done = _run(tmp_path, body + '\nif __name__ == "__main__":\n    main()\n')
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout


def test_guard_is_found_by_line(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent("""\
        import abm
        run()
        if __name__ == "__main__":
            run()
            if True:
                run()
        if "__main__" == __name__:
            run()
        if __name__ != "__main__":
            run()
        """), encoding="utf-8")
    assert [_guarded(str(script), line) for line in range(1, 11)] == [
        False, False, True, True, True, True, True, True, False, False]
    assert not _guarded(str(tmp_path / "missing.py"), 1)


def test_a_package_main_is_not_imported_again(tmp_path: Path) -> None:
    # python -m package runs package/__main__.py, which workers never import: an unguarded call
    # there works, and a pool broken by a killed worker is not blamed on a missing guard
    package = tmp_path / "tinypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(EXPERIMENT + "\nmain()\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run([sys.executable, "-m", "tinypkg"], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout
