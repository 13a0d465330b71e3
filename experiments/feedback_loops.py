"""Question: which feedback loops matter? How many migraine days does each loop add over two
years in a population cohort, how strong is each (its gain: the share of attacks it causes), and
how much does a medication limit or a preventive take away?

The loops of the ``population`` preset, all on in the reference ``all_loops``:

- the **stress loop**: an attack raises the next day's stress by 1-2 points (``feedback.stress``),
  which may make a stress trigger and so the next attack (no published size: Stubberud et al.,
  J Headache Pain 2021;22:155);
- the **sleep-stress circle**: the raised stress shortens the night (``couplings.stress_sleep``)
  and a short night raises the next day's stress (``couplings.sleep_stress``), so the stress rule's
  edit can reach the sleep trigger; the couplings' sizes are assumptions (Yap et al. 2020 give the
  directions only);
- **medication overuse**: acute medication on 10 (triptans, opioids) or 15 (analgesics) days a
  month for 3 months (ICHD-3 8.2) raises the attack rate by half while it lasts
  (medication-overuse headache; ``feedback.overuse``), which brings more medication;
- **chronification**: episodic migraine turns chronic at a rate that rises with the frequency
  (Katsarava et al. 2004), opioids (Bigal et al. 2008) and overuse, and remits
  (``feedback.chronification``).

Variants switch one loop off (``no_overuse``, ``no_chronification``, ``no_stress_rule``;
``no_circle`` switches both couplings off), strengthen the circle (``circle_x3``: both couplings
three times as large), switch the three rules off together (``no_loops``), or add an
intervention: ``medication_limit`` (no acute medication once 8 of the last 30 days had some, from
day 0) and ``preventive_d180`` (every patient's baseline x 0.6 from day 180). Baselines are pinned
to ``all_loops``: each patient is calibrated to their target migraine days *with* every loop
acting (patients who overuse from day 0 with their medication-overuse headache included), so
switching a loop off shows what the loop adds, paired by patient under common random numbers.
Switching the couplings off also changes sleep and stress on days no attack touched, so
``no_circle`` measures the couplings as a whole; the circle's own gain is ``loop_gain_circle``.

Besides the standard outputs the script draws ``differences.png`` (each variant's paired
difference from ``all_loops``), ``loop_gains.png`` (each loop's gain by variant) and
``chronic_course.png`` (the chronic share month by month) into the output folder, and the
timeline shows a patient who starts to overuse and later becomes chronic.

    python experiments/feedback_loops.py [--quick] [--out DIR] [--workers K]
"""

from __future__ import annotations

from pathlib import Path

from abm import Config
from abm.cli.experiment import run_script
from abm.experiments.experiment import Experiment

NAME = "feedback_loops"
#: patients, days, replicates
SIZES = {"full": (5000, 730, 3), "quick": (400, 365, 2)}
CIRCLE_X3 = {"couplings.sleep_stress.points": 1.5,          # 3 x 0.5 points after a short night
             "couplings.stress_sleep.minutes_per_point": 15.0}  # 3 x 5 minutes per point
NO_CIRCLE = {"couplings.stress_sleep.enabled": False, "couplings.sleep_stress.enabled": False}
VARIANTS = {
    "all_loops": {},
    "no_overuse": {"feedback.overuse.enabled": False},
    "no_chronification": {"feedback.chronification.enabled": False},
    "no_stress_rule": {"feedback.stress.enabled": False},
    "no_circle": NO_CIRCLE,
    "circle_x3": CIRCLE_X3,
    "no_loops": {"feedback.stress.enabled": False, "feedback.overuse.enabled": False,
                 "feedback.chronification.enabled": False},
    "medication_limit": {"interventions.medication_limit_days": 8},
    "preventive_d180": {"interventions.preventive_start_day": 180},
}
TABLES = (
    {"migraine_days_per_month_mean": "migraine days / month",
     "paired_migraine_days_per_month_diff": "per-patient Δ days / month",
     "attributable_fraction": "share of migraine days removed",
     "attacks_per_patient_per_month": "attacks / month",
     "chronic_share": "chronic share (≥ 15 days / 30)"},
    {"loop_gain_stress_loop": "gain: stress loop",
     "loop_gain_circle": "gain: sleep-stress circle",
     "loop_gain_medication_overuse": "gain: medication overuse",
     "loop_gain_chronification": "gain: chronification",
     "loop_gain_all": "gain: all loops"},
    {"medication_days_per_month": "medication days / month",
     "overuse_patient_share": "patients who overuse",
     "overuse_day_share": "patient-days in overuse",
     "chronification_rate_per_year": "episodic → chronic a year",
     "chronic_state_end_share": "chronic at the end (chronic_state)"},
)
#: the panels of differences.png
DIFFERENCES = {"paired_migraine_days_per_month_diff": "Δ migraine days / month (per patient)",
               "loop_gain_all": "Δ attacks caused by feedback",
               "overuse_day_share": "Δ patient-days in overuse",
               "chronification_rate_per_year": "Δ episodic → chronic a year"}
#: the variants of chronic_course.png
COURSE_VARIANTS = ["all_loops", "no_overuse", "no_chronification", "medication_limit",
                   "preventive_d180"]


def build(size: str) -> Experiment:
    """The experiment at ``size`` (``"full"`` or ``"quick"``)."""
    patients, days, replicates = SIZES[size]
    base = Config.from_dict({"population": {"preset": "population"}}).replace(
        **{"population.num_patients": patients, "run.days": days})
    return Experiment(
        name=NAME,
        description="The population preset's feedback loops (stress loop, sleep-stress circle, "
                    "medication overuse, chronification) switched off one at a time, the circle "
                    "tripled, and two interventions; baselines calibrated with every loop on.",
        base=base,
        variants=VARIANTS,
        reference="all_loops",
        replicates=replicates,
        metrics=("migraine_days", "chronic_share", "attacks", "risk_ratios", "feedback",
                 "medication", "chronification", "loops", "chronic_course", "realized_course",
                 "paired"),
        timeline_variant="all_loops",
    )


def draw(out: Path) -> list[Path]:
    """The study's own figures, from the summary in ``out`` (run_script records them)."""
    import polars as pl

    from abm.experiments import figures

    summary = pl.read_parquet(out / "summary.parquet")
    paths = [
        figures.difference_forest(
            summary, DIFFERENCES, out / "differences.png",
            "Difference from all_loops (paired by patient and seed), mean and 95% interval over "
            "replicates; filled: the interval excludes 0"),
        figures.loop_gain_plot(summary, out / "loop_gains.png"),
        figures.course_plot(summary, out / "chronic_course.png",
                            "Chronic migraine month by month, mean and 95% interval over "
                            "replicates", variants=COURSE_VARIANTS),
    ]
    return paths


def main(argv: list[str] | None = None) -> int:
    return run_script(__file__, __doc__, build, TABLES, argv, draw=draw)


if __name__ == "__main__":
    raise SystemExit(main())
