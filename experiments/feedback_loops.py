"""Question: how much does the attack -> next-day stress loop amplify migraine days, and how many
episodic patients does it push across the chronic line of 15 migraine days a month?

Variants (the required loop; no published effect size, Stubberud et al., J Headache Pain
2021;22:155):

- ``off``: ``feedback.stress.enabled = false``, the reference;
- ``default``: the package default, +1 to +2 stress points the day after an onset;
- ``doubled``: ``feedback.stress.points = [2, 4]``.

Baselines are pinned to the reference: every patient is calibrated to its target migraine days
*without* the loop, so what the loop adds shows as extra migraine days, paired by patient under
common random numbers (same seed, same patients, weather and draws). Chronification is the share
of patients who are episodic (< 15 days per 30) without the loop and reach >= 15 with it.

    python experiments/feedback_loops.py [--quick] [--out DIR] [--workers K]
"""

from __future__ import annotations

from abm import Config
from abm.cli.experiment import run_script
from abm.experiments.experiment import Experiment

NAME = "feedback_loops"
#: patients, days, replicates
SIZES = {"full": (5000, 365, 10), "quick": (400, 180, 3)}
TABLES = (
    {"migraine_days_per_month_mean": "migraine days / month",
     "paired_migraine_days_per_month_diff": "per-patient Δ days / month",
     "chronic_share": "chronic share",
     "chronification_share": "episodic → chronic",
     "feedback_attack_share": "attacks caused by feedback"},
    {"risk_ratio_stress": "stress RR",
     "attacks_per_patient_per_month": "attacks / month",
     "interattack_interval_mean_days": "days between onsets (mean)",
     "migraine_day_autocorrelation_lag1": "lag-1 autocorrelation"},
)


def build(size: str) -> Experiment:
    """The experiment at ``size`` (``"full"`` or ``"quick"``)."""
    patients, days, replicates = SIZES[size]
    return Experiment(
        name=NAME,
        description="Stress feedback off / default (+1-2 points) / doubled (+2-4 points), "
                    "baselines calibrated without the loop.",
        base=Config().replace(**{"population.num_patients": patients, "run.days": days}),
        variants={"off": {"feedback.stress.enabled": False},
                  "default": {},
                  "doubled": {"feedback.stress.points": [2, 4]}},
        reference="off",
        replicates=replicates,
        metrics=("migraine_days", "chronic_share", "attacks", "clustering", "risk_ratios",
                 "feedback", "paired"),
        timeline_variant="doubled",
    )


def main(argv: list[str] | None = None) -> int:
    return run_script(__file__, __doc__, build, TABLES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
