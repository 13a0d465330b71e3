"""The feedback chain of each attack (``abm.output.attribution``): which feedback made a caused
attack happen, as ``attacks.feedback_chain``.

Checked on the frames: the chain is null on attacks the feedback did not cause; a rule's step is a
real path of the model (the rule's edited column, through couplings whose terms read it, to the
inputs of a risk factor whose flag was on the day before the onset); a chain that goes round the
loop twice begins with the chain of an earlier caused attack of the patient; and the slow states
(``medication_overuse``, ``chronification``) are named only where they raised the baseline.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from feedback_runs import (
    clinic_config,
    clinic_run,
    indexed_attacks,
    matrix,
    periods,
    population_run,
)

import abm
from abm.model.component import Coupling
from abm.model.feedback.sleep import EDIT as SLEEP_EDIT
from abm.model.feedback.stress import EDIT as STRESS_EDIT
from abm.output.attribution import FADE_SPANS

#: the built-in rules and the column each edits
RULE_COLUMNS = {"stress_after_attack": STRESS_EDIT[0], "sleep_after_attack": SLEEP_EDIT[0]}
STATES = ("medication_overuse", "chronification")


@pytest.fixture(scope="module")
def clinic() -> abm.Result:
    return clinic_run()


@pytest.fixture(scope="module")
def with_sleep() -> abm.Result:
    """The clinic cohort with the post-attack sleep rule on too (its edits reach the stress
    flags through the sleep -> stress coupling)."""
    return abm.simulate(clinic_config(**{"population.num_patients": 300,
                                         "feedback.sleep.enabled": True}))


@pytest.fixture(scope="module")
def pop() -> abm.Result:
    return population_run()


def parse(chain: str) -> list[list[list[str]]]:
    """A chain as steps; a step is a state (``[[name]]``) or one or more paths
    ``[rule, coupling..., flag]`` joined by `` + ``; steps are joined by `` > ``."""
    parts = re.split(r"( > | \+ )", chain)
    steps: list[list[list[str]]] = []
    separator = " > "
    for k in range(0, len(parts), 2):
        token = parts[k]
        if token in STATES:
            steps.append([[token]])
        elif token in RULE_COLUMNS:
            if separator == " + ":
                steps[-1].append([token])
            else:
                steps.append([[token]])
        else:
            steps[-1][-1].append(token)
        separator = parts[k + 1] if k + 1 < len(parts) else ""
    return steps


def join(steps: list[list[list[str]]]) -> str:
    return " > ".join(" + ".join(" > ".join(path) for path in step) for step in steps)


def test_parse_reads_back_a_chain() -> None:
    chain = ("medication_overuse > stress_after_attack > letdown_trigger > stress_after_attack "
             "> stress_sleep > sleep_trigger + stress_after_attack > stress_trigger")
    steps = parse(chain)
    assert steps == [[["medication_overuse"]], [["stress_after_attack", "letdown_trigger"]],
                     [["stress_after_attack", "stress_sleep", "sleep_trigger"],
                      ["stress_after_attack", "stress_trigger"]]]
    assert join(steps) == chain


def _check_path(model, path: list[str], flags: dict[str, set[str]]) -> None:
    """``rule > coupling... > flag`` is a path of the model: each coupling has a term that reads
    the column reached so far and writes the next; the flag's risk factor reads the last."""
    rule, *couplings, flag = path
    column = RULE_COLUMNS[rule]
    names = {c.name for c in model.components if isinstance(c, Coupling)}
    for coupling in couplings:
        assert coupling in names, path
        terms = [t for t in model.terms if t.owner == coupling
                 and any(c == column for c, _ in t.inputs)]
        assert terms, (path, coupling, column)
        column = terms[0].column
    assert flag in flags and column in flags[flag], path


def _flag_inputs(model) -> dict[str, set[str]]:
    return {rf.flag_column: {c for c, _ in rf.inputs} for rf in model.risk_factors}


@pytest.mark.parametrize("name", ["clinic", "with_sleep"])
def test_chains_exactly_on_caused_attacks_without_slow_states(name, request) -> None:
    a = request.getfixturevalue(name).attacks
    assert a.schema["feedback_chain"] == pl.String
    # without slow states a caused attack has a flag that an edit switched on (every effect
    # raises the risk), so it has a chain, and only caused attacks have one
    assert a["feedback_chain"].is_not_null().equals(a["caused_by_feedback"], check_names=False)
    assert a["caused_by_feedback"].sum() > 50


def test_chains_are_paths_from_a_rule_to_a_flag_of_the_day_before(with_sleep) -> None:
    r = with_sleep
    model = r.model
    flags = _flag_inputs(model)
    a = indexed_attacks(r).with_row_index("row")
    caused = a.filter("caused_by_feedback")
    earlier: dict[int, list[tuple[int, str]]] = {}
    for row in a.filter("caused_by_feedback").iter_rows(named=True):
        earlier.setdefault(row["i"], []).append((row["d"], row["feedback_chain"]))
    couplings_seen = set()
    twice = 0
    for row in caused.iter_rows(named=True):
        steps = parse(row["feedback_chain"])
        assert join(steps) == row["feedback_chain"]
        for step in steps:
            for path in step:
                _check_path(model, path, flags)
                couplings_seen.update(path[1:-1])
        # the last step's flags were on the day before the onset (the frame's flag columns)
        for path in steps[-1]:
            assert row[path[-1]], (row["feedback_chain"], path[-1])
        # the steps before it: the chain of an earlier caused attack of the same patient
        if len(steps) > 1:
            twice += 1
            head = join(steps[:-1])
            assert any(d < row["d"] and chain == head for d, chain in earlier[row["i"]]), head
    assert {"sleep_stress"} <= couplings_seen  # a path through a coupling was seen
    assert twice > 0


def test_clinic_chains_start_with_the_stress_rule(clinic) -> None:
    chains = clinic.attacks.filter("caused_by_feedback")
    flags = {rf.flag_column for rf in clinic.model.risk_factors}
    assert chains.height > 50
    for chain in chains["feedback_chain"]:
        assert chain.startswith("stress_after_attack > "), chain
        assert chain.rsplit(" > ", 1)[-1] in flags, chain
    # the flag ending the chain was on the day before the onset
    last = chains["feedback_chain"].str.split(" > ").list.last()
    on = [row[flag] for row, flag in zip(chains.iter_rows(named=True), last, strict=True)]
    assert all(on)


def test_without_rules_nothing_is_caused() -> None:
    r = abm.simulate(clinic_config(**{"population.num_patients": 150, "run.days": 180,
                                      "feedback.stress.enabled": False,
                                      "feedback.sleep.enabled": False}))
    assert r.attacks.height > 1000
    assert not r.attacks["caused_by_feedback"].any()
    assert r.attacks["feedback_chain"].is_null().all()


def test_overuse_in_a_chain_means_a_raised_baseline(pop) -> None:
    a = indexed_attacks(pop)
    o = pop.config.feedback.overuse
    mult = matrix(pop, "state_multiplier")
    over = matrix(pop, "medication_overuse")
    fade = FADE_SPANS * o.reversion_days
    windows: dict[int, list[tuple[int, int]]] = {}
    for i, start, end in periods(over):
        windows.setdefault(i, []).append((start, end))

    def near_overuse(i: int, d: int) -> bool:
        return any(start <= d < end + fade for start, end in windows.get(i, ()))

    # the multiplier as drawn: the medication-overuse headache of those who overuse from day 0
    # (this run has no preventive), which is no cause: the series as drawn has it
    drawn = np.where(over[:, 0], o.baseline_factor, 1.0)
    chains = a.filter(pl.col("feedback_chain").str.contains("medication_overuse"))
    assert chains.height > 50
    for i, d in chains.select("i", "d").iter_rows():
        assert near_overuse(i, d) and mult[i, d] > drawn[i] * (1 + 1e-6), (i, d)
    # conversely, a caused attack on an overuse day of a patient who did not overuse from day
    # 0 names the overuse first
    caused = a.filter(pl.col("caused_by_feedback"))
    during = caused.filter(pl.Series([bool(over[i, d] and not over[i, 0])
                                      for i, d in caused.select("i", "d").iter_rows()]))
    assert during.height > 50
    assert during["feedback_chain"].str.starts_with("medication_overuse").all()


def test_chronification_in_a_chain_means_a_chronified_patient(pop) -> None:
    a = indexed_attacks(pop)
    chronic = matrix(pop, "chronic_state")
    is_chronic = pop.patients.sort("patient_id")["is_chronic"].to_numpy()
    named = a.filter(pl.col("feedback_chain").str.contains("chronification"))
    assert named.height > 0
    for i, d in named.select("i", "d").iter_rows():
        # an episodic patient who became chronic on or before the onset day
        assert not is_chronic[i] and chronic[i, :d + 1].any(), (i, d)
    # conversely, a caused attack of a chronified patient names it (after the overuse, if any)
    changed = a.filter("caused_by_feedback").filter(pl.Series(
        [bool(chronic[i, d] and not is_chronic[i])
         for i, d in a.filter("caused_by_feedback").select("i", "d").iter_rows()]))
    assert changed.height > 0
    first = changed["feedback_chain"].str.replace(r"^medication_overuse \+ ", "")
    assert first.str.starts_with("chronification").all()


def test_in_a_population_only_a_faded_overuse_leaves_a_caused_attack_unnamed(pop) -> None:
    # the chain names an overuse up to FADE_SPANS time constants after it; a caused attack
    # without a chain can only come from the small rest of the fading (or it is named)
    a = indexed_attacks(pop)
    assert a.filter(~pl.col("caused_by_feedback"))["feedback_chain"].is_null().all()
    unnamed = a.filter(pl.col("caused_by_feedback") & pl.col("feedback_chain").is_null())
    mult = matrix(pop, "state_multiplier")
    fade = FADE_SPANS * pop.config.feedback.overuse.reversion_days
    windows = periods(matrix(pop, "medication_overuse"))
    for i, d in unnamed.select("i", "d").iter_rows():
        assert mult[i, d] > 1, (i, d)
        assert not any(j == i and start <= d < end + fade for j, start, end in windows), (i, d)
    assert a["caused_by_feedback"].sum() > 200
    assert np.isin(["medication_overuse", "stress_after_attack"],
                   a["feedback_chain"].drop_nulls().str.split(" > ").explode().unique()).all()
