"""Presets: named sets of settings for the cohorts and models the literature describes.

``population.preset`` picks one; every setting it does not name keeps its default, and every
setting the user gives wins over it (in a TOML file, on the command line, in ``Config.replace``).

- ``clinic`` (the default): the user's original design, a specialty-clinic cohort (15% chronic,
  episodic patients at U(1, 14) migraine days a month, 70% women, ages 18-64) with the seed's
  four triggers at their validated 15-20% effect.
- ``population``: a population cohort (AMPP; Buse 2020): monthly migraine days 0-3 for 67.7%,
  4-7 for 17.7%, 8-14 for 7.8%, 15 or more (chronic) for 6.8%; 80% women; age mean 46, SD 13.7.
  Attacks start mostly in the morning and untreated ones are shorter than a clinic's (median
  12 h, assumption), so that with treatment (0.74x as long: Landy 2012) an attack covers about
  1.3 calendar days, as in diaries (Vgontzas 2020: 1.31). Medication overuse and chronification
  are on: a population cohort is where they are measured (Bigal 2008).
- ``evidence``: the population cohort with the literature's risk factors instead of the seed's:
  no causal effect of sleep duration (Bertisch 2020), of stress level or its rise (Lipton 2014:
  the decline, let-down, instead), or of chocolate and 1-2 drinks (Marcus 1997; Mostofsky 2020:
  alcohol only at 5 drinks or more); low sleep efficiency raises next-day risk (Bertisch 2020:
  OR 1.39); weather only in the sensitive subgroup (Kimoto 2011: 64%, OR 1.27 there). The
  prodrome's craving brings chocolate more often (assumption: half of craving days), so that
  chocolate predicts attacks without causing them (Marcus 1997; Nowaczewska 2020).
"""

from __future__ import annotations

from typing import Any

#: the presets' names, the default first
NAMES = ("clinic", "population", "evidence")

_POPULATION: dict[str, Any] = {
    "population.chronic_ratio": 0.068,
    "population.female_ratio": 0.80,
    "population.age_distribution": "normal",
    "population.age_years": [12, 90],
    "population.episodic_frequency": "bins",
    "population.chronic_days_per_month": [16.0, 25.0],
    "attacks.duration_median_hours": 12.0,
    "attacks.morning_onset_share": 0.8,
    "feedback.overuse.enabled": True,
    "feedback.chronification.enabled": True,
}

#: dotted setting -> value, per preset (the ``clinic`` preset is the defaults)
PRESETS: dict[str, dict[str, Any]] = {
    "clinic": {},
    "population": dict(_POPULATION),
    "evidence": {
        **_POPULATION,
        "triggers.sleep_effect": 0.0,
        "triggers.stress_effect": 0.0,
        "triggers.diet_effect": 0.0,
        "triggers.sleep_efficiency.enabled": True,
        "prodrome.craving_chocolate_probability": 0.5,
    },
}


def overrides(name: str) -> dict[str, Any]:
    """The settings preset ``name`` changes (dotted keys)."""
    return dict(PRESETS[name])


def markdown_table() -> str:
    """The documentation's table of what each preset changes."""
    rows = ["| preset | changes |", "|---|---|"]
    for name in NAMES:
        changes = ", ".join(f"`{key} = {_toml(value)}`" for key, value in PRESETS[name].items())
        rows.append(f"| `{name}` | {changes or 'nothing: the defaults (the original design)'} |")
    return "\n".join(rows) + "\n"


def _toml(value: Any) -> str:
    """A value as a TOML file writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
