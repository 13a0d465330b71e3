"""Question: what share of migraine days is attributable to each trigger?

A counterfactual, paired by patient: every variant sets one trigger's effect to zero
(``triggers.weather_effect = 0`` and so on; the trigger is still logged, it just no longer raises
the onset probability), and ``no_triggers`` sets every one to zero. Baselines are pinned to the
reference (``all_triggers``, the default configuration), so every patient keeps the baseline
calibrated with all triggers acting and the removed trigger's share shows as migraine days that
disappear. With the same seed every patient keeps the same weather, sleep, stress and diet
(common random numbers); only the attacks change.

The attributable fraction is ``1 - migraine days without the trigger / migraine days with it``
over the cohort. Effects multiply (``baseline x prod(1 + effect x susceptibility)``), so the
single-trigger fractions do not add up exactly to the all-trigger one. Removing the stress trigger
also removes the feedback loop's attacks, which act through it.

    python experiments/trigger_removal.py [--quick] [--out DIR] [--workers K]
"""

from __future__ import annotations

from abm import Config
from abm.cli.experiment import run_script
from abm.engine.model import built_in_triggers
from abm.experiments.experiment import Experiment
from abm.model.catalog import built_in
from abm.model.component import RiskFactor

NAME = "trigger_removal"
#: patients, days, replicates
SIZES = {"full": (5000, 365, 10), "quick": (400, 180, 3)}
TABLES = (
    {"attributable_fraction": "share of migraine days attributable",
     "paired_migraine_days_per_month_diff": "per-patient Δ days / month",
     "migraine_days_per_month_mean": "migraine days / month",
     "chronic_share": "chronic share",
     "remission_share": "chronic → episodic",
     "feedback_attack_share": "attacks caused by feedback"},
    {f"risk_ratio_{t}": f"{t} RR" for t in built_in_triggers()},
)


def build(size: str) -> Experiment:
    """The experiment at ``size`` (``"full"`` or ``"quick"``)."""
    patients, days, replicates = SIZES[size]
    variants: dict[str, dict[str, float]] = {"all_triggers": {}}
    risk_factors = [c for c in built_in() if isinstance(c, RiskFactor)]
    variants |= {f"no_{rf.trigger}": {rf.effect_setting: 0.0} for rf in risk_factors}
    variants["no_triggers"] = {rf.effect_setting: 0.0 for rf in risk_factors}
    return Experiment(
        name=NAME,
        description="Each trigger's effect set to zero in turn, baselines pinned to the default "
                    "(all triggers) calibration: the share of migraine days each trigger causes.",
        base=Config().replace(**{"population.num_patients": patients, "run.days": days}),
        variants=variants,
        reference="all_triggers",
        replicates=replicates,
        metrics=("migraine_days", "chronic_share", "attacks", "risk_ratios", "feedback",
                 "paired"),
        timeline_variant="all_triggers",
    )


def main(argv: list[str] | None = None) -> int:
    return run_script(__file__, __doc__, build, TABLES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
