"""Question: how do a clinic-like cohort and a population cohort differ in migraine burden?

- ``clinic``: the user's original design: 15% chronic, 30% with aura, 70% women, ages 18-64.
  A 15% chronic share fits a specialty clinic, not the population (see below).
- ``population``: people with migraine in the general population, from published epidemiology:

  - chronic migraine 8%: 7.7% of people with migraine in the American Migraine Prevalence and
    Prevention (AMPP) study (0.91% of the population against 11.79% with migraine; Buse, Manack,
    Fanning et al., "Chronic migraine prevalence, disability, and sociodemographic factors",
    Headache 2012, doi 10.1111/j.1526-4610.2012.02223.x) and 8.8% in the Chronic Migraine
    Epidemiology and Outcomes (CaMEO) study (1,476 of 16,789; Adams, Serrano, Buse et al.,
    Cephalalgia 2015;35:563);
  - aura 33%: 4.1% migraine with aura out of 12.3% with any migraine among Danish adults (Le,
    Tfelt-Hansen, Skytthe, Kyvik, Olesen, BMJ Open 2012;2:e000962);
  - women 80% and mean age 46 (SD 13.7): AMPP 2005, 11,603 people with migraine (Buse, Reed,
    Fanning, Bostic, Lipton, Headache 2020); ages 22-70 drawn uniformly give mean 46, SD 14.1.
    (AMPP's prevalence ratio of 17.1% of women to 5.6% of men, Lipton et al., Neurology
    2007;68:343, gives 75-80% women among people with migraine.)

Each cohort is calibrated on its own (``pin_baselines = false``): the variants have different
patients, so the reference's baselines would not belong to them. The same seed still gives
both cohorts the same draws: a patient chronic in the population cohort is chronic in the clinic
cohort too, since each label compares the same uniform with the chronic share.

Kept from the user's design in both: episodic targets U(1, 14) days a month. AMPP's episodic
patients mostly have 0-3 headache days a month (67.7%; Buse 2020), a skewed distribution that a
uniform range cannot express, so the population cohort's episodic burden is the clinic's.

    python experiments/cohort_variants.py [--quick] [--out DIR] [--workers K]
"""

from __future__ import annotations

from abm import Config
from abm.cli.experiment import run_script
from abm.engine.model import built_in_triggers
from abm.experiments.experiment import Experiment

NAME = "cohort_variants"
#: patients, days, replicates
SIZES = {"full": (5000, 365, 10), "quick": (500, 180, 3)}
POPULATION = {
    "population.chronic_ratio": 0.08,     # AMPP 7.7% (Buse 2012), CaMEO 8.8% (Adams 2015)
    "population.aura_ratio": 0.33,        # Le 2012: 4.1% of 12.3%
    "population.female_ratio": 0.80,      # AMPP: 80.2% (Buse 2020)
    "population.age_years": [22, 70],     # AMPP: mean 46, SD 13.7 (Buse 2020)
}
TABLES = (
    {"female_share": "women", "aura_share": "with aura", "age_mean": "mean age",
     "chronic_label_share": "labelled chronic", "chronic_share": "realized chronic"},
    {"migraine_days_per_month_mean": "migraine days / month",
     "migraine_days_per_month_median": "median",
     "migraine_days_per_month_q75": "75th percentile",
     "attacks_per_patient_per_month": "attacks / month",
     "migraine_days_per_attack": "days per attack",
     "feedback_attack_share": "attacks caused by feedback"},
    {f"risk_ratio_{t}": f"{t} RR" for t in built_in_triggers()},
)


def build(size: str) -> Experiment:
    """The experiment at ``size`` (``"full"`` or ``"quick"``)."""
    patients, days, replicates = SIZES[size]
    return Experiment(
        name=NAME,
        description="Clinic-like cohort (user's design) against a population cohort from "
                    "AMPP/CaMEO epidemiology, each calibrated on its own.",
        base=Config().replace(**{"population.num_patients": patients, "run.days": days}),
        variants={"clinic": {}, "population": POPULATION},
        reference="clinic",
        pin_baselines=False,
        replicates=replicates,
        metrics=("cohort", "migraine_days", "chronic_share", "attacks", "clustering",
                 "risk_ratios", "feedback"),
    )


def main(argv: list[str] | None = None) -> int:
    return run_script(__file__, __doc__, build, TABLES, argv)


if __name__ == "__main__":
    raise SystemExit(main())
