"""``abm export fusemoe``: the files as FuseMoE's loader reads them, their size and environment.

- :func:`fusemoe_batches` is our own reading of the data path of FuseMoE's
  ``src/preprocessing/data_mimiciv.py`` (``load_data``, ``TSNote_Irg.__getitem__``, ``F_impute``,
  ``TextTSIrgcollate_fn``) for the model types the export supports (``TS``, ``TS_CXR``), in NumPy,
  without FuseMoE or torch: every key the Dataset reads, the conversions it makes (to float and
  long tensors, ``.astype`` on ``cxr_time``), and the collate's padding;
- the size estimate is compared with the written size, and an export above ``--max-gb`` is refused
  with exit 2 and nothing written;
- the pickles name only ``numpy.ndarray`` and ``builtins.bytearray`` (no ``numpy._core``, which
  NumPy < 1.26 cannot import), and load under an old NumPy when one is installed (the test is
  skipped otherwise; ``ABM_OLD_NUMPY_PYTHON`` names its interpreter, default
  ``/tmp/oldnp/bin/python``).
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from abm.cli.app import main as abm_main
from abm.exports import fusemoe

TASK = "ihm-migraine"
ALLOWED_GLOBALS = {("numpy", "ndarray"), ("builtins", "bytearray")}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert abm_main(["run", "--patients", "30", "--days", "30", "--out", str(out),
                     "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def exports(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fusemoe")
    layouts = {"ts": [], "cxr": ["--diary-vectors"],
               "all3": ["--diary-vectors", "--hourly-grid", "--window-days", "3"]}
    for name, extra in layouts.items():
        assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(folder / name),
                         "--quiet", *extra]) == 0
    return {name: folder / name for name in layouts}


# --- our reading of FuseMoE's data path ------------------------------------------------------

def load_data(file_path: Path, mode: str, task: str) -> list:
    """``load_data``: ``{file_path}/{mode}_{task}_stays.pkl``, unpickled."""
    with open(file_path / f"{mode}_{task}_stays.pkl", "rb") as handle:
        return pickle.load(handle)


def f_impute(values: np.ndarray, tt: np.ndarray, mask: np.ndarray, tt_max: int) -> np.ndarray:
    """``F_impute(X, tt, mask, 1, tt_max)``: the grid FuseMoE makes with ``--reg_ts`` from
    ``irg_ts``, ``ts_tt`` (hours) and ``irg_ts_mask``, whatever ``reg_ts`` holds."""
    d = values.shape[1]
    grid = np.zeros((tt_max, 2 * d))
    for x, t, m in zip(values, tt, mask, strict=True):
        row = int(t)
        if row >= tt_max:
            continue
        seen = m == 1
        grid[row, d:][seen] = 1
        grid[row, :d][seen] = x[seen]
        carry = ~seen & (grid[row - 1, :d] != 0)
        grid[row, :d][carry] = grid[row - 1, :d][carry]
    return grid


def get_item(sample: dict, modeltype: str, tt_max: int, reg_ts: bool) -> dict:
    """``TSNote_Irg.__getitem__`` for ``TS`` and ``TS_CXR``: the keys it reads, in its order,
    and what it returns (NumPy arrays where it makes tensors)."""
    name = sample["name"]
    sample["reg_ts"]  # read, then replaced  # noqa: B018
    ts = np.asarray(sample["irg_ts"], dtype=np.float32)
    ts_mask = np.asarray(sample["irg_ts_mask"], dtype=np.int64)
    label = np.asarray(sample["label"], dtype=np.int64)
    ts_tt_hours = sample["ts_tt"]
    grid = f_impute(ts, ts_tt_hours, ts_mask, tt_max).astype(np.float32) if reg_ts else None
    if "Text" in modeltype:
        sample["text_missing"]  # noqa: B018
    if "CXR" in modeltype and not sample["cxr_missing"]:
        cxr_feats = np.asarray(sample["cxr_feats"], dtype=np.float32)
        cxr_time = np.asarray(sample["cxr_time"].astype(np.float32), dtype=np.float32)
        cxr_time_mask = np.ones(len(cxr_time), dtype=np.int64)
    else:
        cxr_feats, cxr_time, cxr_time_mask = np.zeros((5, 1024)), np.zeros(5), np.ones(5)
    ts_tt = np.asarray([t / tt_max for t in ts_tt_hours], dtype=np.float32)
    item = {"idx": name, "ts": ts, "ts_mask": ts_mask, "ts_tt": ts_tt, "reg_ts": grid,
            "label": label}
    if modeltype == "TS_CXR":
        item.update(cxr_feats=cxr_feats, cxr_time=cxr_time, cxr_time_mask=cxr_time_mask)
    return item


def pad(arrays: list[np.ndarray]) -> np.ndarray:
    """``pad_sequence(..., batch_first=True, padding_value=0)``: zero-pad the first axis."""
    longest = max(a.shape[0] for a in arrays)
    out = np.zeros((len(arrays), longest, *arrays[0].shape[1:]), dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, :a.shape[0]] = a
    return out


def collate(batch: list[dict]) -> dict:
    """``TextTSIrgcollate_fn`` for ``TS`` and ``TS_CXR``: series of 1000 rows or more are
    dropped; the rest are zero-padded; ``reg_ts`` is stacked (all the same shape) or None."""
    batch = [b for b in batch if len(b["ts"]) < 1000]
    out = {"ts": pad([b["ts"] for b in batch]), "ts_mask": pad([b["ts_mask"] for b in batch]),
           "ts_tt": pad([b["ts_tt"] for b in batch]),
           "label": np.stack([b["label"] for b in batch]),
           "reg_ts": None if batch[0]["reg_ts"] is None
           else np.stack([b["reg_ts"] for b in batch])}
    if "cxr_feats" in batch[0]:
        out["cxr_feats"] = pad([b["cxr_feats"] for b in batch])
        out["cxr_time"] = pad([b["cxr_time"] for b in batch])
        out["cxr_time_mask"] = pad([b["cxr_time_mask"] for b in batch])
    return out


def fusemoe_batches(folder: Path, modeltype: str, tt_max: int, reg_ts: bool = True,
                    batch_size: int = 64) -> dict[str, list[dict]]:
    """Every split of an export, as FuseMoE's DataLoader would give it to the model."""
    out = {}
    for mode in fusemoe.SPLITS:
        data = load_data(folder, mode, TASK)
        assert type(data) is list
        items = [get_item(s, modeltype, tt_max, reg_ts) for s in data]
        out[mode] = [collate(items[i:i + batch_size]) for i in range(0, len(items), batch_size)]
    return out


# --- the export as FuseMoE reads it ----------------------------------------------------------

@pytest.mark.parametrize("name, modeltype, tt_max", [
    ("ts", "TS", 48), ("cxr", "TS", 48), ("cxr", "TS_CXR", 48), ("all3", "TS_CXR", 72)])
def test_fusemoe_reads_every_split_for_its_model_types(exports, name, modeltype,
                                                       tt_max) -> None:
    meta = json.loads((exports[name] / "fusemoe.json").read_text())
    assert meta["tt_max"] == tt_max
    for reg_ts in (True, False):
        batches = fusemoe_batches(exports[name], modeltype, tt_max, reg_ts)
        for mode, collated in batches.items():
            assert sum(len(b["label"]) for b in collated) == meta["splits"][mode]["samples"]
            for b in collated:
                n, t, d = b["ts"].shape
                assert d == 30 and b["ts_mask"].shape == (n, t, 30) and t < 1000
                assert b["ts_tt"].shape == (n, t)
                assert ((b["ts_tt"] >= 0) & (b["ts_tt"] < 1)).all()
                assert set(np.unique(b["label"])) <= {0, 1}
                assert (b["reg_ts"] is None) is not reg_ts
                if reg_ts:
                    assert b["reg_ts"].shape == (n, tt_max, 60)
                if modeltype == "TS_CXR":
                    k = b["cxr_feats"].shape[1]
                    assert b["cxr_feats"].shape == (n, k, 1024) and k >= 1
                    assert b["cxr_time"].shape == b["cxr_time_mask"].shape == (n, k)
                    assert ((b["cxr_time"] >= 0) & (b["cxr_time"] < 1)).all()


def test_fusemoe_sample_keys_dtypes_and_missing_flags(exports) -> None:
    ts_keys = {"name", "ts_tt", "irg_ts", "irg_ts_mask", "reg_ts", "label"}
    for name, extra in (("ts", set()), ("cxr", {"cxr_feats", "cxr_time", "cxr_missing"})):
        meta = json.loads((exports[name] / "fusemoe.json").read_text())
        assert set(meta["keys"]) == ts_keys | extra and meta["reg_ts"] is None
        for mode in fusemoe.SPLITS:
            for s in load_data(exports[name], mode, TASK):
                assert set(s) == ts_keys | extra and s["reg_ts"] is None
                assert s["ts_tt"].dtype == np.float64 and s["irg_ts"].dtype == np.float32
                assert s["irg_ts_mask"].dtype == np.int32 and type(s["label"]) is int
                if not extra:
                    continue
                k = s["cxr_feats"].shape[0]
                assert s["cxr_missing"] in (0, 1) and type(s["cxr_missing"]) is int
                assert s["cxr_missing"] == (k == 0)
                assert s["cxr_feats"].shape == (k, 1024) and s["cxr_feats"].dtype == np.float32
                assert s["cxr_time"].shape == (k,) and s["cxr_time"].dtype == np.float32
                assert (np.diff(s["cxr_time"]) > 0).all()
                assert not s["cxr_feats"][:, 60:].any()  # only the entry's 60 numbers


def test_fusemoe_diary_vectors_repeat_the_diary_columns_of_irg_ts(exports) -> None:
    meta = json.loads((exports["cxr"] / "fusemoe.json").read_text())
    index = {f["name"]: f["index"] for f in meta["features"]}
    diary = [index[n] for n in meta["diary_vectors"]["features"]]
    assert meta["diary_vectors"] == {"slot": "cxr", "dim": 1024,
                                     "features": meta["diary_vectors"]["features"]}
    assert "stress_level" in meta["diary_vectors"]["features"]
    assert not {"pressure", "total_sleep_hours", "migraine_severity"} \
        & set(meta["diary_vectors"]["features"])
    for s in load_data(exports["cxr"], "val", TASK)[:300]:
        for row, t in zip(s["cxr_feats"], s["cxr_time"], strict=True):
            hours = float(t) * 48
            assert 0 <= hours < 48
            # the entry is a row of irg_ts at its entry time: what it wrote is observed there
            # (another entry made at the same instant, a day filled in from memory beside the
            # day's own, may share the row and write the same features)
            (at,) = np.flatnonzero(np.isclose(s["ts_tt"], hours, atol=1e-3))
            wrote = row[30:60][diary] > 0
            assert wrote.any()
            assert s["irg_ts_mask"][at][diary][wrote].all()
            others = np.setdiff1d(np.arange(30), diary)
            assert not row[others].any() and not row[30 + others].any()


# --- size -------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--diary-vectors"], ["--hourly-grid"],
                                   ["--window-days", "5", "--diary-vectors", "--hourly-grid"]])
def test_fusemoe_size_estimate_is_close(run_dir: Path, tmp_path: Path, capsys, extra) -> None:
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(tmp_path / "f"), *extra]) == 0
    line = capsys.readouterr().err
    size = sum(p.stat().st_size for p in (tmp_path / "f").iterdir())
    frames, config, model = fusemoe.atomic.load_run(run_dir)
    window = int(extra[1]) if extra[:1] == ["--window-days"] else 2
    layout = fusemoe.Layout("--hourly-grid" in extra, "--diary-vectors" in extra)
    estimate = fusemoe.plan(frames, window, config.run.seed, model, layout).estimate_bytes()
    assert abs(estimate - size) <= 0.05 * size, (estimate, size)
    assert f"estimated {fusemoe.size_text(estimate)}" in line


def test_fusemoe_refuses_above_the_limit_and_writes_nothing(run_dir: Path, tmp_path: Path,
                                                            capsys) -> None:
    target = tmp_path / "f"
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target),
                     "--max-gb", "0.001"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "would write about" in err and "MB (estimated)" in err and "--force" in err
    assert _files(tmp_path) == []
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target), "--quiet",
                     "--max-gb", "0.001", "--force"]) == 0
    written = {n: (target / n).read_bytes() for n in _files(target)}
    assert abm_main(["export", "fusemoe", str(run_dir), "--to", str(target), "--overwrite",
                     "--diary-vectors", "--max-gb", "0.001"]) == 2
    assert {n: (target / n).read_bytes() for n in _files(target)} == written
    assert _files(tmp_path) == ["f"]


def test_the_default_limit_is_one_gigabyte(monkeypatch) -> None:
    assert fusemoe.MAX_GB == 1.0
    fusemoe.check_size(10**9, 1.0, False)
    with pytest.raises(fusemoe.OutputError, match=r"about 1\.0 GB \(estimated\)"):
        fusemoe.check_size(10**9 + 1, 1.0, False)
    fusemoe.check_size(10**12, 1.0, True)


# --- environment ------------------------------------------------------------------------------

class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def test_pickles_name_no_numpy_core(exports) -> None:
    for folder in exports.values():
        for mode in fusemoe.SPLITS:
            path = folder / f"{mode}_{TASK}_stays.pkl"
            data = path.read_bytes()
            assert b"_core" not in data and b"multiarray" not in data
            names = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
            assert names <= {"numpy ndarray", "builtins bytearray"}, names
            assert max(op.proto for op, _, _ in pickletools.genops(data)) <= 3
            with open(path, "rb") as handle:
                restricted = _Restricted(handle).load()
            plain = load_data(folder, mode, TASK)
            assert len(restricted) == len(plain)
            for a, b in zip(restricted, plain, strict=True):
                assert a.keys() == b.keys()
                assert all(np.array_equal(a[k], b[k]) for k in a)


def test_loaded_arrays_are_writable_and_exact(run_dir: Path) -> None:
    frames, config, model = fusemoe.atomic.load_run(run_dir)
    layout = fusemoe.Layout(hourly_grid=True, diary_vectors=True)
    prepared = fusemoe.plan(frames, 2, 1, model, layout)
    for sample in list(prepared.iter_samples("val"))[:50]:
        loaded = pickle.loads(fusemoe.dumps(sample))
        for key, value in sample.items():
            if isinstance(value, np.ndarray):
                assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
                assert np.array_equal(loaded[key], value) and loaded[key].flags.writeable
            else:
                assert loaded[key] == value
    empty = pickle.loads(fusemoe.dumps({"a": np.zeros((0, 1024), np.float32)}))["a"]
    assert empty.shape == (0, 1024) and empty.dtype == np.float32
    with pytest.raises(TypeError):
        fusemoe.dumps(np.array([object()]))


OLD_NUMPY = os.environ.get("ABM_OLD_NUMPY_PYTHON", "/tmp/oldnp/bin/python")


@pytest.mark.skipif(not Path(OLD_NUMPY).exists(),
                    reason=f"no interpreter with an old NumPy at {OLD_NUMPY}")
def test_pickles_load_with_numpy_before_1_26(exports) -> None:
    script = (
        "import pickle, sys, numpy\n"
        "assert tuple(int(x) for x in numpy.__version__.split('.')[:2]) < (1, 26), "
        "numpy.__version__\n"
        "for path in sys.argv[1:]:\n"
        "    data = pickle.load(open(path, 'rb'))\n"
        "    for s in data:\n"
        "        assert s['irg_ts'].shape[1] == 30 and s['irg_ts'].dtype == numpy.float32\n"
        "        if 'cxr_feats' in s:\n"
        "            s['cxr_time'].astype(numpy.float32)\n"
        "            assert s['cxr_feats'].shape == (len(s['cxr_time']), 1024)\n"
        "print(numpy.__version__)\n")
    paths = [str(folder / f"{mode}_{TASK}_stays.pkl") for folder in exports.values()
             for mode in fusemoe.SPLITS]
    done = subprocess.run([OLD_NUMPY, "-c", script, *paths], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
