"""The building blocks of a synthetic patient's treatment: what the rules look at (`Clinical`),
what they produce (`Plan`), and the `Planner` that schedules surgery, radiotherapy and systemic
courses consistently with the disease course (pathways.py holds the rules themselves).

All times are days from diagnosis. `stop` is the first of death and the data cut-off: nothing
starts on or after it, and a course still running at the cut-off has no end date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from oncology.demo.radiotherapy import RT_SCHEDULES
from oncology.demo.regimens import REGIMENS
from oncology.demo.tumours import RIGHT_COLON, pick

# Beyond this a regimen "until progression" would in practice have become a maintenance or
# treatment-break schedule; the demo stops it there.
MAX_CYCLES_UNTIL_PROGRESSION = 60


@dataclass
class Clinical:
    """What the treatment rules look at."""

    site: str  # lung, breast, colorectal, liver
    histology: str
    topography: str
    t: str
    n: str
    m: str
    stage: str  # TNM stage group
    grade: str
    ecog: int
    age: float
    weight_kg: float
    markers: dict[str, object]  # egfr, alk, pdl1, er, pr, her2, msi, ras (see cohort._biomarkers)
    progression_day: int | None
    death_day: int
    cutoff_day: int

    @property
    def stop(self) -> int:
        return min(self.death_day, self.cutoff_day)

    @property
    def pdl1_tps(self) -> float:
        value = self.markers.get("pdl1_tps")
        return float(value) if isinstance(value, int | float) else 0.0

    @property
    def fit(self) -> bool:
        return self.ecog <= 1 and self.age < 80

    @property
    def bucket(self) -> str:
        for b in ("IV", "III", "II", "I"):
            if self.stage.startswith(b):
                return b
        raise ValueError(self.stage)


@dataclass
class SurgeryCourse:
    day: int
    procedure: str
    margin: str
    intent: str


@dataclass
class RadiotherapyCourse:
    day: int
    end_day: int | None
    schedule: str
    intent: str
    best_response: str = ""


@dataclass
class SystemicCourse:
    day: int
    end_day: int | None
    regimen: str
    cycles: int
    intent: str
    best_response: str = ""


@dataclass
class Plan:
    surgeries: list[SurgeryCourse] = field(default_factory=list)
    radiotherapies: list[RadiotherapyCourse] = field(default_factory=list)
    systemic: list[SystemicCourse] = field(default_factory=list)
    pathological_tn: tuple[str, str] | None = None
    margin: str = ""
    # True when the primary treatment aimed at cure: a later event is a recurrence.
    curative: bool = False
    # Day the patient was last on active primary treatment (follow-up switches to surveillance).
    primary_done_day: int = 0
    palliative_started: bool = False


class Planner:
    def __init__(self, rng: np.random.Generator, c: Clinical) -> None:
        self.rng = rng
        self.c = c
        self.plan = Plan()
        prog = c.progression_day if c.progression_day is not None else math.inf
        # Curative steps are abandoned once the disease progresses.
        self.curative_stop = min(prog, c.stop)

    # --- building blocks --------------------------------------------------------------------

    def days(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def surgery(self, day: int, procedure: str, *, intent: str = "curative") -> int | None:
        if day >= self.curative_stop:
            return None
        margin = (
            ""
            if "ablation" in procedure or "chemoembolisation" in procedure
            else pick(self.rng, {"R0": 0.92, "R1": 0.07, "R2": 0.01})
        )
        self.plan.surgeries.append(SurgeryCourse(day, procedure, margin, intent))
        self.plan.primary_done_day = max(self.plan.primary_done_day, day)
        if margin and not self.plan.margin:
            self.plan.margin = margin
        return day

    def radiotherapy(
        self, day: int, schedule: str, intent: str, *, measurable: bool = False
    ) -> int | None:
        """Schedule a course; returns its last day, or None when it cannot start."""
        limit = self.curative_stop if intent != "palliative" else self.c.stop
        if day >= limit:
            return None
        s = RT_SCHEDULES[schedule]
        end = day + s.days
        if end >= self.c.stop:  # death or cut-off during a course: record it as given so far
            end_day = None if self.c.cutoff_day <= self.c.death_day else self.c.death_day - 1
            if end_day is not None and end_day < day:
                return None
            if end_day is None:
                return None  # still on treatment at the cut-off: leave it for the next export
            end = end_day
        response = (
            self.response(day, end, 0.55 if intent == "curative" else 0.3) if measurable else ""
        )
        self.plan.radiotherapies.append(RadiotherapyCourse(day, end, schedule, intent, response))
        if intent != "palliative":
            self.plan.primary_done_day = max(self.plan.primary_done_day, end)
        return end

    def systemic(
        self,
        day: int,
        key: str,
        intent: str,
        *,
        cycles: int | None = None,
        measurable: bool = False,
    ) -> int | None:
        """Schedule a regimen; returns its last day (or the cut-off day when still running)."""
        reg = REGIMENS[key]
        limit = self.c.stop if intent == "palliative" else self.curative_stop
        if day >= limit:
            return None
        planned = cycles or reg.cycles
        prog = self.c.progression_day
        # A palliative line runs until progression; curative courses stop at recurrence too.
        stop_at = self.c.stop
        if prog is not None and prog > day:
            stop_at = min(stop_at, prog)
        if reg.max_days is not None:
            natural_end = day + reg.max_days
        elif planned is not None:
            natural_end = day + planned * reg.cycle_days - 1
        else:  # until progression; immunotherapy stops after two years (35 three-weekly cycles)
            io = reg.category in {"immunotherapy", "chemoimmunotherapy"}
            natural_end = day + (35 * 21 if io else MAX_CYCLES_UNTIL_PROGRESSION * reg.cycle_days)
        end = min(natural_end, stop_at)
        running_at_cutoff = natural_end >= self.c.cutoff_day and end >= self.c.cutoff_day
        if running_at_cutoff and self.c.cutoff_day > self.c.death_day:
            running_at_cutoff = False
        if not running_at_cutoff and end >= self.c.death_day:
            end = self.c.death_day - 1
        if end < day:
            end = day
        given = max(1, math.ceil((min(end, self.c.cutoff_day) - day + 1) / reg.cycle_days))
        if planned is not None:
            given = min(given, planned)
        response = self.response(day, end, reg.response_rate) if measurable else ""
        self.plan.systemic.append(
            SystemicCourse(day, None if running_at_cutoff else end, key, given, intent, response)
        )
        if intent in {"adjuvant", "neoadjuvant", "curative"}:
            self.plan.primary_done_day = max(self.plan.primary_done_day, end)
        return end

    def response(self, start: int, end: int, rate: float) -> str:
        """RECIST best response: progression within three months of starting means PD;
        otherwise responders are CR (one in eight) or PR, the rest stable disease."""
        prog = self.c.progression_day
        if prog is not None and start <= prog <= start + 90:
            return "PD"
        if self.c.stop - start < 42:  # no assessment scan before death or the cut-off
            return "NE"
        if self.rng.random() < rate:
            return "CR" if self.rng.random() < 0.125 else "PR"
        return "SD"

    # --- palliative therapy (metastatic disease, or after recurrence) -----------------------

    def palliative_lines(self, start: int) -> None:
        c = self.c
        if self.plan.palliative_started or c.ecog >= 3 or start >= c.stop:
            return
        self.plan.palliative_started = True
        first = self.first_line()
        if first is None:
            return
        end = self.systemic(start, first, "palliative", measurable=True)
        prog = c.progression_day
        if end is None or prog is None or prog >= c.stop or prog < start:
            return
        second_start = prog + self.days(14, 35)
        if c.stop - second_start > 45 and self.rng.random() < 0.6:
            second = self.second_line(first)
            if second:
                self.systemic(second_start, second, "palliative", measurable=True)

    def first_line(self) -> str | None:
        c, mk = self.c, self.c.markers
        if c.site == "lung":
            if c.histology == "sclc":
                return "carbo_etop_atezo"
            if mk.get("egfr") == "positive":
                return "osimertinib"
            if mk.get("alk") == "positive":
                return "alectinib"
            if c.ecog >= 2:
                return "carbo_gem"
            if c.pdl1_tps >= 50:
                return "pembrolizumab_lung"
            return "carbo_pem_pembro" if c.histology == "adenocarcinoma" else "carbo_pac_pembro"
        if c.site == "breast":
            if mk.get("her2") == "positive":
                return "docetaxel_hp"
            if mk.get("er") == "positive":
                return "letrozole_palbociclib"
            return "paclitaxel_metastatic"
        if c.site == "colorectal":
            if mk.get("msi") == "positive":
                return "pembrolizumab_crc"
            if c.ecog >= 2 or c.age >= 80:
                return "capecitabine_metastatic"
            left = c.topography not in RIGHT_COLON
            ras_wild_type = mk.get("kras") == "negative" and mk.get("nras") == "negative"
            return "folfox_pmab" if left and ras_wild_type else "folfox_bev"
        if c.site == "liver":
            if c.ecog >= 2:
                return None
            return "lenvatinib" if c.age >= 80 else "atezo_bev"
        return None

    def second_line(self, first: str) -> str | None:
        c = self.c
        if c.site == "lung":
            if c.histology == "sclc":
                return "topotecan"
            if first in {"osimertinib", "alectinib", "pembrolizumab_lung"}:
                return "carbo_pem_pembro" if first != "pembrolizumab_lung" else "docetaxel"
            return "docetaxel"
        if c.site == "breast":
            return "capecitabine_breast"
        if c.site == "colorectal":
            return "folfiri_bev" if first != "capecitabine_metastatic" else None
        if c.site == "liver":
            return "sorafenib" if first == "atezo_bev" else None
        return None

    def metastatic_radiotherapy(self) -> None:
        """Bone or brain metastases (M1b/M1c) often need palliative radiotherapy."""
        c = self.c
        if c.m not in {"M1b", "M1c", "M1"} or self.rng.random() >= 0.3:
            return
        if c.site == "lung" and self.rng.random() < 0.3:
            schedule = "brain_srs"
        else:
            schedule = "bone_single" if self.rng.random() < 0.6 else "bone_5"
        self.radiotherapy(self.days(7, 60), schedule, "palliative")
