"""The prodrome: symptoms on the days before onsets, set after the run (reverse causation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import abm
from abm import Config
from abm.output.causal_graph import build_graph
from abm.validation.checks import patient_day_matrix, recomputed_flags
from abm.validation.stats import mantel_haenszel_rr

N, DAYS = 300, 120


def _config(**changes) -> Config:
    return Config().replace(**{"population.num_patients": N, "run.days": DAYS, "run.seed": 5,
                               **changes})


@pytest.fixture(scope="module")
def on() -> abm.Result:
    return abm.simulate(_config())


@pytest.fixture(scope="module")
def off() -> abm.Result:
    return abm.simulate(_config(**{"prodrome.enabled": False}))


def _m(result: abm.Result, column: str) -> np.ndarray:
    return patient_day_matrix(result.daily, column, N, DAYS)


def _share_z(a: np.ndarray, b: np.ndarray) -> float:
    """z of the difference of two shares (pooled standard error)."""
    p = (a.sum() + b.sum()) / (a.size + b.size)
    se = math.sqrt(p * (1 - p) * (1 / a.size + 1 / b.size))
    return (a.mean() - b.mean()) / se


def test_onsets_do_not_change(on: abm.Result, off: abm.Result) -> None:
    # the prodrome follows decided onsets: same seed, same onsets, same attacks
    np.testing.assert_array_equal(_m(on, "migraine_onset"), _m(off, "migraine_onset"))
    cols = ["attack_id", "onset", "end", "severity", "caused_by_feedback"]
    assert on.attacks.select(cols).equals(off.attacks.select(cols))
    # and the columns no post-run step changes are the same
    for column in ("stress_level", "total_sleep_hours", "alcohol_consumed", "sleep_trigger"):
        np.testing.assert_array_equal(_m(on, column), _m(off, column))


def test_symptoms_are_commoner_the_day_before_an_onset(on: abm.Result) -> None:
    onset = _m(on, "migraine_onset")
    before = np.zeros_like(onset)
    before[:, :-1] = onset[:, 1:]
    two = np.zeros_like(onset)
    two[:, :-2] = onset[:, 2:]
    elsewhere = ~before & ~two
    s = on.config.prodrome
    for symptom in ("fatigue", "neck_stiffness", "food_craving"):
        x = _m(on, symptom)
        assert _share_z(x[before], x[elsewhere]) > 5, symptom
        # the chance of the day before, within sampling error (the background's share added)
        p = getattr(s, f"{symptom}_day_before")
        share = x[before & ~two].mean()
        se = math.sqrt(p * (1 - p) / (before & ~two).sum())
        assert abs(share - p) < 4 * se + getattr(s, f"{symptom}_background"), symptom
        assert x[two & ~before].mean() < share, symptom
        b = getattr(s, f"{symptom}_background")
        assert abs(x[elsewhere].mean() - b) < 4 * math.sqrt(b * (1 - b) / elsewhere.sum())


def test_craving_brings_chocolate_only_the_day_before_an_onset(on: abm.Result,
                                                                off: abm.Result) -> None:
    brought = _m(on, "chocolate_from_craving")
    craving = _m(on, "food_craving")
    onset = _m(on, "migraine_onset")
    before = np.zeros_like(onset)
    before[:, :-1] = onset[:, 1:]
    assert brought.any()
    assert not (brought & ~(craving & before)).any()
    choc_on, choc_off = _m(on, "chocolate_consumed"), _m(off, "chocolate_consumed")
    np.testing.assert_array_equal(choc_on, choc_off | brought)
    assert not (brought & choc_off).any()
    # about the configured share of craving days before onsets without chocolate
    eligible = craving & before & ~choc_off
    p = on.config.prodrome.craving_chocolate_probability
    assert abs(brought[eligible].mean() - p) < 4 * math.sqrt(p * (1 - p) / eligible.sum())


def test_flags_and_p_onset_stay_recomputable(on: abm.Result) -> None:
    for name, flags in recomputed_flags(on.daily, on.model, N, DAYS).items():
        np.testing.assert_array_equal(flags, on.daily[name].to_numpy(), err_msg=name)
    # the attacks frame says where the prodrome switched the diet flag of the day before on
    switched = on.attacks["diet_from_prodrome"]
    assert switched.any()
    assert on.attacks.filter("diet_from_prodrome")["diet_trigger"].all()
    assert {row["passed"] for row in [{"passed": c.passed} for c in abm.validate(
        on, resimulate=False) if c.name in ("triggers recomputable", "consistency")]} == {True}


def test_the_graph_shows_the_reverse_path(on: abm.Result) -> None:
    edges = {(e["from"], e["to"], e["lag_days"], e["kind"]) for e in build_graph(on.model)["edges"]}
    for symptom in ("fatigue", "neck_stiffness", "food_craving"):
        assert ("migraine_onset", symptom, -1, "after_run") in edges
        assert ("migraine_onset", symptom, -2, "after_run") in edges
    assert ("food_craving", "chocolate_consumed", 0, "after_run") in edges


def _chocolate_rr(result: abm.Result) -> tuple[float, float, float]:
    onset, has = _m(result, "migraine_onset"), _m(result, "has_migraine")
    at_risk, y = (~has | onset)[:, 1:], onset[:, 1:]
    e = _m(result, "chocolate_consumed")[:, :-1]
    e1, e0 = e & at_risk, ~e & at_risk
    return mantel_haenszel_rr((e1 & y).sum(1), e1.sum(1), (e0 & y).sum(1), e0.sum(1))


def test_chocolate_predicts_attacks_through_the_prodrome_alone() -> None:
    # the diet trigger has no effect; a strong prodrome still makes chocolate "predict" onsets
    strong = _config(**{"triggers.diet_effect": 0.0, "prodrome.food_craving_day_before": 0.6,
                        "prodrome.craving_chocolate_probability": 0.8})
    rr, lo, hi = _chocolate_rr(abm.simulate(strong))
    assert lo > 1.5, (rr, lo, hi)
    rr, lo, hi = _chocolate_rr(abm.simulate(strong.replace(**{"prodrome.enabled": False})))
    assert lo <= 1.0 <= hi, (rr, lo, hi)


def test_after_run_may_not_change_an_editable_column() -> None:
    from abm.engine.block import Block
    from abm.errors import ConfigError
    from abm.model.prodrome import Prodrome

    class Bad(Prodrome):
        name = "bad_prodrome"
        changes_after_run = ("stress_level",)

        def after_run(self, block: Block, onsets: np.ndarray) -> dict[str, np.ndarray]:
            return {"stress_level": block.columns["stress_level"]}

    with pytest.raises(ConfigError, match="cannot change 'stress_level'"):
        abm.simulate(_config(**{"population.num_patients": 5, "prodrome.enabled": False}),
                     components=[Bad()])
