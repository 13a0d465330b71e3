"""Question: how fast do episodic patients become chronic, and what changes it: medication
overuse, a medication limit, a preventive, opioids?

In the ``population`` preset an episodic patient turns chronic at a rate that rises with their
migraine frequency (Katsarava et al., Neurology 2004: odds ratios 6.2 at 5-9 and 20.1 at 10-14
headache days a month), with opioids (Bigal et al., Headache 2008: 1.98) and, while it lasts, with
medication overuse (x2, an assumption); chronic patients remit at 30% a year (an assumption
that keeps the chronic share stable; Serrano et al. 2017). Overall about 2.5% of episodic
patients a year (Bigal et al. 2008). A change moves the patient's frequency to a chronic one
(15-22 days a month) or, on remission, to a high episodic one.

Variants, over two years, baselines pinned to the reference ``usual_care`` (the preset as it is):

- ``no_overuse``: ``feedback.overuse.enabled = false``: no medication-overuse headache, and no
  extra chronification risk from overuse;
- ``medication_limit``: no acute medication once 8 of the last 30 days had some, from day 0
  (below ICHD-3's overuse thresholds of 10 and 15 days);
- ``preventive``: from day 180 every patient's baseline x 0.6;
- ``no_opioids``: the patients who would take opioids take triptans instead
  (``medication.class_shares = [0.55, 0.45, 0]``; same overuse threshold, no opioid odds ratio);
- ``no_remission``: chronic migraine does not remit (``remission_annual_rate = 0``), to show
  what keeps the chronic share stable.

Measured on the ground-truth ``chronic_state``: changes from episodic to chronic per episodic
patient-year, the share of the patients episodic on day 0 who are chronic at some time in the
run, month by month; and, as a diary would see it, the share of patients with at least 15
migraine days in a month.

Besides the standard outputs the script draws ``chronic_course.png`` (the chronic share and the
cumulative chronification month by month) and ``differences.png`` (each variant's paired
difference from ``usual_care``) into the output folder.

    python experiments/chronification.py [--quick] [--out DIR] [--workers K]
"""

from __future__ import annotations

from pathlib import Path

from abm import Config
from abm.cli.experiment import run_script
from abm.experiments.experiment import Experiment

NAME = "chronification"
#: patients, days, replicates
SIZES = {"full": (5000, 730, 5), "quick": (400, 365, 2)}
VARIANTS = {
    "usual_care": {},
    "no_overuse": {"feedback.overuse.enabled": False},
    "medication_limit": {"interventions.medication_limit_days": 8},
    "preventive": {"interventions.preventive_start_day": 180},
    "no_opioids": {"medication.class_shares": [0.55, 0.45, 0.0]},
    "no_remission": {"feedback.chronification.remission_annual_rate": 0.0},
}
TABLES = (
    {"chronification_rate_per_year": "episodic → chronic a year",
     "chronified_patient_share": "episodic on day 0, chronic in the run",
     "median_days_to_chronification": "median day of the change",
     "remission_rate_per_year": "chronic → episodic a year",
     "chronic_state_end_share": "chronic at the end (chronic_state)"},
    {"chronic_share": "≥ 15 migraine days / 30 (whole run)",
     "realized_chronic_share_month_24": "≥ 15 migraine days in month 24",
     "migraine_days_per_month_mean": "migraine days / month",
     "overuse_patient_share": "patients who overuse",
     "overuse_day_share": "patient-days in overuse",
     "medication_days_per_month": "medication days / month"},
)
#: the panels of differences.png
DIFFERENCES = {"chronification_rate_per_year": "Δ episodic → chronic a year",
               "chronified_patient_share": "Δ episodic on day 0, chronic in the run",
               "chronic_share": "Δ patients with ≥ 15 migraine days / 30",
               "paired_migraine_days_per_month_diff": "Δ migraine days / month (per patient)"}


def build(size: str) -> Experiment:
    """The experiment at ``size`` (``"full"`` or ``"quick"``)."""
    patients, days, replicates = SIZES[size]
    base = Config.from_dict({"population": {"preset": "population"}}).replace(
        **{"population.num_patients": patients, "run.days": days})
    return Experiment(
        name=NAME,
        description="Chronification in the population preset over two years: medication "
                    "overuse off, a medication limit (8 days in 30), a preventive from day 180, "
                    "no opioids, no remission; baselines calibrated for usual care.",
        base=base,
        variants=VARIANTS,
        reference="usual_care",
        replicates=replicates,
        metrics=("migraine_days", "chronic_share", "risk_ratios", "medication", "chronification",
                 "loops", "chronic_course", "realized_course", "paired"),
        timeline_variant="usual_care",
    )


def draw(out: Path) -> list[Path]:
    """The study's own figures, from the summary in ``out`` (run_script records them)."""
    import polars as pl

    from abm.experiments import figures

    summary = pl.read_parquet(out / "summary.parquet")
    paths = [
        figures.course_plot(summary, out / "chronic_course.png",
                            "Chronic migraine month by month, mean and 95% interval over "
                            "replicates"),
        figures.difference_forest(
            summary, DIFFERENCES, out / "differences.png",
            "Difference from usual_care (paired by patient and seed), mean and 95% interval "
            "over replicates; filled: the interval excludes 0"),
    ]
    return paths


def main(argv: list[str] | None = None) -> int:
    return run_script(__file__, __doc__, build, TABLES, argv, draw=draw)


if __name__ == "__main__":
    raise SystemExit(main())
