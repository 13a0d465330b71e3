"""The edit mechanism: whatever rules edit, the final data equal a from-scratch computation.

``patient.edit(column, day, delta, cause)`` adds to a column's latent value and re-derives, day
by day, what depends on it (terms of other columns, risk-factor flags, onset probabilities). The
check here is the contract of that mechanism: after a run in which rules made arbitrary edits,
the cohort's latent arrays are the edited inputs, and deriving every column, flag and onset
probability from them with the vectorized functions of the draw gives exactly the final data.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from conftest import cycle_shares
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import abm
from abm import Config
from abm.engine import derive
from abm.engine.model import Model
from abm.engine.simulation import build_cohort, run_agents
from abm.model.component import FeedbackRule, PlannedEdit
from abm.output.recorder import final_onset_probability


class _RandomEdits:
    """A rule that edits stress and sleep on days after each attack by amounts drawn from its
    own generator (seeded per patient and day, so the run stays reproducible)."""

    name = "random_edits"

    def __init__(self, seed: int, columns: tuple[str, ...]) -> None:
        self.seed = seed
        self.columns = columns

    def __call__(self, attack) -> None:
        rng = np.random.default_rng([self.seed, attack.patient.index, attack.day])
        for _ in range(int(rng.integers(1, 4))):
            column = self.columns[int(rng.integers(len(self.columns)))]
            offset = int(rng.integers(0, 4))
            size = float(rng.normal(0, 2.0 if column == "stress_level" else 1.0))
            attack.patient.edit(column, attack.day + offset, size, self.name)


def _from_scratch(cohort) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every column and the packed flags, derived anew from the (edited) latent values."""
    columns = {name: values for name, values in cohort.columns.items()
               if name not in cohort.model.editable}
    derive.derive_editable(cohort.model, columns, cohort.latent)
    levels = derive.levels(cohort.model, columns)
    return columns, derive.pack(levels, cohort.model.fields, cohort.model.code_bytes)


def _check_run(config: Config, rules: list) -> int:
    cohort = build_cohort(Model.build(config, rules=rules))
    run_agents(cohort)
    columns, codes = _from_scratch(cohort)
    for name in cohort.model.editable:
        np.testing.assert_array_equal(cohort.columns[name], columns[name], err_msg=name)
    np.testing.assert_array_equal(cohort.codes, codes)
    # onsets: on every free day, an attack started iff the uniform fell below the probability
    # of the final series
    p = final_onset_probability(cohort)
    for i, onsets in enumerate(cohort.onsets):
        busy = np.zeros(cohort.days, bool)
        started = np.zeros(cohort.days, bool)
        for d in onsets:
            started[d] = True
            busy[d + 1:d + int(cohort.attacks.span_days[i, d])] = True
        free = ~busy
        np.testing.assert_array_equal(started[free], (cohort.onset_uniform[i] < p[i])[free])
    return len(cohort.edits)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.integers(1, 12), st.integers(10, 60),
       st.sampled_from([("stress_level",), ("total_sleep_hours",),
                        ("stress_level", "total_sleep_hours", "sleep_quality")]))
def test_any_edits_equal_a_computation_from_the_edited_inputs(seed, patients, days, columns):
    config = Config().replace(**{"population.num_patients": patients, "run.days": days,
                                 "run.seed": seed, "triggers.stress_effect": 3.0,
                                 "triggers.sleep_effect": 3.0})
    _check_run(config, [_RandomEdits(seed, columns)])


def test_edits_with_the_built_in_rules_equal_a_computation_from_the_edited_inputs():
    config = Config().replace(**{"population.num_patients": 40, "run.days": 90,
                                 "feedback.sleep.enabled": True,
                                 "feedback.sleep.extra_hours": 1.5})
    assert _check_run(config, None) > 0


def test_an_edit_of_the_night_re_derives_its_quality():
    # sleep_quality has a term of the night's length: editing the length changes the quality
    # of that night only, by the term's change
    config = Config().replace(**{"population.num_patients": 30, "run.days": 60})
    plain = build_cohort(Model.build(config, rules=[]))
    run_agents(plain)
    edited = build_cohort(Model.build(config, rules=[_RandomEdits(3, ("total_sleep_hours",))]))
    run_agents(edited)
    hours = edited.columns["total_sleep_hours"] != plain.columns["total_sleep_hours"]
    quality = edited.columns["sleep_quality"] != plain.columns["sleep_quality"]
    assert hours.sum() > 20
    assert not (quality & ~hours).any()
    assert quality.sum() > 0.5 * hours.sum()


def test_editing_a_column_that_is_not_editable_is_refused():
    class EditsDiet:
        name = "diet_edit"

        def __call__(self, attack) -> None:
            attack.patient.edit("alcohol_consumed", attack.day + 1, 1, self.name)

    config = Config().replace(**{"population.num_patients": 20, "run.days": 60})
    with pytest.raises(ValueError, match="not an editable column"):
        abm.simulate(config, feedback_rules=[EditsDiet()])


def _calibration_z(config: Config, rules: list | None) -> float:
    """z of the summed realized-minus-target share of migraine days (about N(0, 1) when the
    calibration accounts for the rules), from each patient's own cycles (onset to onset)."""
    result = abm.simulate(config, feedback_rules=rules)
    n, days = config.population.num_patients, config.run.days
    daily = result.daily.sort("patient_id", "day")
    has = daily["has_migraine"].to_numpy().reshape(n, days)
    onset = daily["migraine_onset"].to_numpy().reshape(n, days)
    target = result.patients.sort("patient_id")["target_migraine_days_per_month"].to_numpy() / 30
    realized, se = cycle_shares(has, onset)
    ok = np.isfinite(se)
    return (realized[ok] - target[ok]).sum() / math.sqrt((se[ok] ** 2).sum())


class _StressTwoDaysLater(FeedbackRule):
    """A custom declarative rule: +3 stress two days after an attack (strong on purpose)."""

    name = "stress_two_days_later"
    inputs = (("migraine_onset", 0),)

    def planned(self, block) -> list[PlannedEdit]:
        return [PlannedEdit("stress_level", 2, 3.0)]


class _PlainStressTwoDaysLater:
    """The same edit as :class:`_StressTwoDaysLater`, as a plain callable: calibration cannot
    see it."""

    name = "plain"

    def __call__(self, attack) -> None:
        attack.patient.edit("stress_level", attack.day + 2, 3.0, self.name)


@pytest.mark.parametrize("variant", ["sleep rule", "custom rule"])
def test_calibration_accounts_for_rules_it_does_not_know_by_name(variant):
    # Strong effects make an unaccounted rule visible: with the stress trigger's effect at 3,
    # a rule that sets stress triggers after attacks would add attacks beyond the targets.
    base = Config().replace(**{"population.num_patients": 150, "run.days": 720,
                               "run.seed": 11, "triggers.stress_effect": 3.0,
                               "triggers.sleep_effect": 3.0})
    if variant == "sleep rule":
        config = base.replace(**{"feedback.stress.enabled": False,
                                 "feedback.sleep.enabled": True,
                                 "feedback.sleep.extra_hours": -3.0})
        rules = None
        assert abs(_calibration_z(config, rules)) < 4
    else:
        # Calibration's renewal approximation leaves a little of a rule this strong (an edit two
        # days on can reach past the next attack): measured z 2-5 over seeds, against 20-24 for
        # the same edit undeclared (test below). It must remove most of the rule's effect.
        config = base.replace(**{"feedback.stress.enabled": False})
        declared = _calibration_z(config, [_StressTwoDaysLater()])
        assert abs(declared) < 0.25 * _calibration_z(config, [_PlainStressTwoDaysLater()])


def test_a_plain_callable_rule_is_not_seen_by_calibration():
    # The same edit as a plain callable: calibration assumes it changes nothing, so the
    # realized share overshoots the targets (this is why rules should declare their edits).
    config = Config().replace(**{"population.num_patients": 150, "run.days": 720,
                                 "run.seed": 11, "triggers.stress_effect": 3.0,
                                 "triggers.sleep_effect": 3.0,
                                 "feedback.stress.enabled": False})
    assert _calibration_z(config, [_PlainStressTwoDaysLater()]) > 10
    frame = abm.simulate(config.replace(**{"population.num_patients": 5, "run.days": 60}),
                         feedback_rules=[_StressTwoDaysLater()]).events
    assert frame.filter(pl.col("event") == "feedback")["name"].cast(pl.String).str.starts_with(
        "stress_two_days_later:").all()


def test_a_rule_that_plans_to_edit_the_past_is_refused():
    with pytest.raises(abm.ConfigError, match="0 or more days after"):
        PlannedEdit("stress_level", -1, 1.0)


def test_a_rule_that_plans_to_edit_a_column_that_is_not_editable_is_refused_before_the_run():
    class EditsDiet(FeedbackRule):
        name = "edits_diet"

        def planned(self, block) -> list[PlannedEdit]:
            return [PlannedEdit("alcohol_consumed", 1, 1.0)]

    config = Config().replace(**{"population.num_patients": 5, "run.days": 20})
    with pytest.raises(abm.ConfigError, match="'edits_diet' plans an edit of 'alcohol_consumed'"):
        abm.simulate(config, components=[EditsDiet()])


def test_a_coupling_from_the_attacks_is_refused():
    class AfterAttacks(abm.Coupling):
        name = "after_attacks"
        target = "stress_level"
        inputs = (("migraine_onset", 1),)

        def term(self, v, config):
            return v["migraine_onset", 1]

    with pytest.raises(abm.ConfigError, match="reads only the components' logged columns"):
        abm.simulate(Config().replace(**{"population.num_patients": 5, "run.days": 20}),
                     components=[AfterAttacks()])


class _StressShortensTheNight(abm.Coupling):
    """Evening stress shortens that night's sleep: with the built-in short night -> next-day
    stress coupling, a loop through earlier days (derived day by day)."""

    name = "stress_shortens_the_night"
    target = "total_sleep_hours"
    inputs = (("stress_level", 0),)

    def term(self, v, config):
        return -0.3 * (v["stress_level", 0] - 5)


def test_a_loop_of_couplings_is_derived_day_by_day_and_stays_exact():
    config = Config().replace(**{"population.num_patients": 30, "run.days": 60,
                                 "feedback.sleep.enabled": True,
                                 "feedback.sleep.extra_hours": -1.5})
    model = Model.build(config, extra=[_StressShortensTheNight()])
    assert model.lagged_terms
    assert model.derive_order.index("stress_level") < model.derive_order.index(
        "total_sleep_hours")
    cohort = build_cohort(model)
    run_agents(cohort)
    columns, codes = _from_scratch(cohort)
    for name in cohort.model.editable:
        np.testing.assert_array_equal(cohort.columns[name], columns[name], err_msg=name)
    np.testing.assert_array_equal(cohort.codes, codes)
    assert len(cohort.edits) > 0
