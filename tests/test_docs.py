"""The README documents what the code does: every column, every setting, the public API."""

from __future__ import annotations

from pathlib import Path

import abm
from abm import docgen
from abm.config.settings import describe, markdown_table
from abm.output import schemas

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    blocks = [b.split("```")[0].strip() for b in README.split("```bash")[1:3]]
    assert blocks == ["pip install -e . && abm run",
                      "pip install -e '.[test]' && python -m pytest"]


def test_every_frame_column_is_documented() -> None:
    assert schemas.markdown_tables() in README
    for frame, columns in schemas.frames().items():
        assert f"#### `{frame}`" in README
        for name in columns:
            assert f"| `{name}` |" in README, f"{frame}.{name} missing from README"


def test_every_setting_is_documented_with_a_source() -> None:
    assert markdown_table() in README
    for name, _default, source in describe():
        assert f"| `{name}` |" in README, f"{name} missing from README"
        assert source


def test_public_api_is_small_and_deliberate() -> None:
    assert sorted(abm.__all__) == sorted([
        "AbmError", "Column", "Component", "Config", "ConfigError", "Coupling", "FeedbackRule",
        "InputError", "OutputError", "PlannedEdit", "Result", "RiskFactor",
        "SyntheticDataGenerator", "load_config", "simulate", "validate", "write_outputs",
        "__version__"])
    for name in abm.__all__:
        assert hasattr(abm, name)


def test_generated_blocks_are_up_to_date() -> None:
    """Every generated table of the documentation is what ``python -m abm.docgen`` makes."""
    checked = 0
    for name in docgen.FILES:
        path = docgen.ROOT / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        assert docgen.render(text) == text, f"{name} is out of date: run python -m abm.docgen"
        checked += len(docgen.blocks(text))
    assert checked >= 3
