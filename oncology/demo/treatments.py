"""Which treatments a synthetic patient receives, and when: stage-appropriate pathways.

Early disease: surgery (or stereotactic radiotherapy when unfit) with adjuvant therapy when the
pathology asks for it. Locally advanced: chemoradiotherapy or neoadjuvant therapy then surgery.
Metastatic disease, and recurrence after curative treatment: palliative systemic therapy chosen
by biomarkers and performance status, a second line at progression when the patient is still
fit, palliative radiotherapy for bone or brain metastases. ECOG 3-4 receives best supportive
care. The rules follow the ESMO and NICE pathways of 2020-2024 in simplified form; see
docs/demo-cohort.md.

All times are days from diagnosis. `stop` is the first of death and the data cut-off: nothing
starts on or after it, and a course still running at the cut-off has no end date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from oncology.demo.regimens import REGIMENS, RT_SCHEDULES
from oncology.demo.tumours import RECTUM, RIGHT_COLON, pathological_tn, pick

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


class _Planner:
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


def plan_treatment(rng: np.random.Generator, c: Clinical) -> Plan:
    p = _Planner(rng, c)
    if c.bucket == "IV":
        p.metastatic_radiotherapy()
        if c.site == "lung" and c.ecog >= 3 and rng.random() < 0.4:
            p.radiotherapy(p.days(7, 28), "thorax_palliative", "palliative")
        p.palliative_lines(p.days(14, 35))
        return p.plan
    {
        "lung": _lung,
        "breast": _breast,
        "colorectal": _colorectal,
        "liver": _liver,
    }[c.site](p)
    # Recurrence after curative treatment, or progression after local therapy.
    prog = c.progression_day
    if prog is not None and prog < c.stop:
        p.palliative_lines(prog + p.days(14, 42))
    return p.plan


def _adjuvant_after(p: _Planner, day: int, key: str, cycles: int | None = None) -> int | None:
    return p.systemic(day + p.days(35, 63), key, "adjuvant", cycles=cycles)


def _lung(p: _Planner) -> None:
    c = p.c
    if c.histology == "sclc":
        if c.ecog >= 3:
            return
        p.plan.curative = True
        start = p.days(14, 28)
        chemo_end = p.systemic(start, "cis_etoposide", "curative", measurable=True)
        rt_end = p.radiotherapy(start + 42, "sclc_thoracic_bd", "curative")
        last = max(chemo_end or 0, rt_end or 0)
        if last and (c.progression_day is None or c.progression_day > last + 60):
            p.radiotherapy(last + p.days(28, 56), "pci", "curative")
        return
    operable = c.ecog <= 1 and c.age < 85
    if c.bucket in {"I", "II"}:
        p.plan.curative = True
        if not operable:
            if c.bucket == "I":
                central = c.topography == "C34.0"
                p.radiotherapy(
                    p.days(21, 42),
                    "lung_sabr_central" if central else "lung_sabr_peripheral",
                    "curative",
                )
            else:
                p.radiotherapy(p.days(21, 42), "lung_radical_55", "curative")
            return
        procedure = (
            "Pneumonectomy"
            if c.topography == "C34.0"
            else "Lobectomy and mediastinal nodal dissection"
        )
        day = p.surgery(p.days(21, 56), procedure)
        if day is None:
            return
        pt, pn = pathological_tn(p.rng, "lung", c.t, c.n)
        p.plan.pathological_tn = (pt, pn)
        node_positive = pn != "N0"
        big = pt in {"T2b", "T3", "T4"}
        if (node_positive or big) and c.fit:
            end = _adjuvant_after(p, day, "cis_vinorelbine")
            if end is not None and c.markers.get("egfr") == "positive":
                p.systemic(end + p.days(14, 28), "osimertinib_adjuvant", "adjuvant")
        return
    # Stage III
    p.plan.curative = True
    resectable = c.t in {"T1a", "T1b", "T1c", "T2a", "T2b", "T3"} and c.n in {"N0", "N1", "N2"}
    if resectable and c.fit and p.rng.random() < 0.3:
        end = p.systemic(p.days(14, 28), "nivo_carbo_pac_neoadj", "neoadjuvant", measurable=True)
        if end is not None:
            p.surgery(end + p.days(21, 42), "Lobectomy and mediastinal nodal dissection")
        return
    if c.ecog <= 1 and c.age < 80:
        start = p.days(21, 42)
        p.systemic(start, "carbo_pac_weekly_crt", "curative")
        rt_end = p.radiotherapy(start, "lung_radical", "curative", measurable=True)
        if rt_end is not None and c.pdl1_tps >= 1:
            p.systemic(rt_end + p.days(14, 42), "durvalumab", "curative")
    elif c.ecog <= 2:
        p.radiotherapy(p.days(21, 42), "lung_radical_55", "curative", measurable=True)
    else:
        p.plan.curative = False
        p.radiotherapy(p.days(7, 28), "thorax_palliative", "palliative")


def _breast(p: _Planner) -> None:
    c, mk = p.c, p.c.markers
    her2 = mk.get("her2") == "positive"
    hr = mk.get("er") == "positive"
    triple_negative = not her2 and not hr
    p.plan.curative = True
    post_menopausal = c.age >= 55
    endocrine = "letrozole_adjuvant" if post_menopausal else "tamoxifen_adjuvant"
    if c.bucket == "III" or (her2 and c.t not in {"T1a", "T1b"} and c.fit):
        # Neoadjuvant chemotherapy, then mastectomy, then radiotherapy.
        start = p.days(14, 35)
        end = p.systemic(start, "ec", "neoadjuvant", measurable=True)
        if end is None:
            return
        taxane = "paclitaxel_hp" if her2 else "paclitaxel_weekly"
        end = p.systemic(end + p.days(1, 14), taxane, "neoadjuvant", measurable=True)
        if end is None:
            return
        day = p.surgery(
            end + p.days(21, 42),
            "Mastectomy and axillary node clearance"
            if c.n != "N0"
            else "Mastectomy and sentinel lymph node biopsy",
        )
        if day is None:
            return
        rt_end = p.radiotherapy(day + p.days(28, 56), "breast_40_15", "adjuvant")
        after = rt_end or day
        if her2:
            p.systemic(day + p.days(21, 42), "trastuzumab", "adjuvant")
        if hr:
            p.systemic(after + p.days(7, 28), endocrine, "adjuvant")
        return
    conserving = c.t in {"T1a", "T1b", "T1c", "T2"} and p.rng.random() < 0.7
    nodes = "axillary node clearance" if c.n != "N0" else "sentinel lymph node biopsy"
    procedure = ("Wide local excision and " if conserving else "Mastectomy and ") + nodes
    day = p.surgery(p.days(21, 49), procedure)
    if day is None:
        return
    pt, pn = pathological_tn(p.rng, "breast", c.t, c.n)
    p.plan.pathological_tn = (pt, pn)
    after = day
    high_risk = pn != "N0" or (c.grade == "G3" and pt != "T1a")
    if (
        c.age < 75
        and c.ecog <= 1
        and ((triple_negative and pt not in {"T1a", "T1b"}) or (her2 and pt != "T1a") or high_risk)
    ):
        end = _adjuvant_after(p, day, "ec")
        if end is None:
            return
        taxane = "paclitaxel_trastuzumab" if her2 else "paclitaxel_weekly"
        end = p.systemic(end + p.days(1, 14), taxane, "adjuvant")
        if end is None:
            return
        if her2:
            p.systemic(end + 1, "trastuzumab", "adjuvant")
        after = end
    if conserving or pn != "N0":
        end = p.radiotherapy(
            after + p.days(21, 42),
            "breast_fast_forward" if conserving else "breast_40_15",
            "adjuvant",
        )
        after = end or after
    if hr:
        p.systemic(after + p.days(7, 28), endocrine, "adjuvant")


_COLON_PROCEDURES = {
    "C18.0": "Right hemicolectomy",
    "C18.2": "Right hemicolectomy",
    "C18.3": "Right hemicolectomy",
    "C18.4": "Extended right hemicolectomy",
    "C18.5": "Left hemicolectomy",
    "C18.6": "Left hemicolectomy",
    "C18.7": "Sigmoid colectomy",
    "C19.9": "Anterior resection",
    "C20.9": "Anterior resection (total mesorectal excision)",
}


def _colorectal(p: _Planner) -> None:
    c = p.c
    procedure = _COLON_PROCEDURES[c.topography]
    p.plan.curative = True
    if c.topography in RECTUM and c.bucket in {"II", "III"}:
        if p.rng.random() < 0.7 and c.ecog <= 1:
            start = p.days(21, 42)
            p.systemic(start, "capecitabine_crt", "neoadjuvant")
            rt_end = p.radiotherapy(start, "rectum_long", "neoadjuvant", measurable=True)
            if rt_end is not None:
                p.surgery(rt_end + p.days(56, 84), procedure)
        else:
            rt_end = p.radiotherapy(p.days(21, 42), "rectum_short", "neoadjuvant")
            if rt_end is not None:
                p.surgery(rt_end + p.days(5, 12), procedure)
        return
    if c.ecog >= 3:
        p.plan.curative = False
        return
    day = p.surgery(p.days(21, 49), procedure)
    if day is None:
        return
    pt, pn = pathological_tn(p.rng, "colorectal", c.t, c.n)
    p.plan.pathological_tn = (pt, pn)
    if c.ecog > 1:
        return
    high_risk = pt in {"T4a", "T4b"} or pn.startswith("N2")
    if pn != "N0":
        if c.age >= 75:
            _adjuvant_after(p, day, "capecitabine_adjuvant")
        else:
            _adjuvant_after(p, day, "capox", cycles=8 if high_risk else 4)
    elif pt in {"T4a", "T4b"} and c.markers.get("msi") != "positive" and c.age < 75:
        _adjuvant_after(p, day, "capox", cycles=4)


def _liver(p: _Planner) -> None:
    c = p.c
    if c.ecog >= 3:
        return
    if c.bucket == "I":
        p.plan.curative = True
        if c.t == "T1a" or p.rng.random() < 0.5:
            p.surgery(p.days(21, 56), "Radiofrequency ablation of liver tumour")
        else:
            p.surgery(p.days(21, 56), "Partial hepatectomy")
        return
    if c.bucket == "II" or c.stage == "IIIA":
        # Intermediate stage: transarterial chemoembolisation, repeated once when responding.
        first = p.surgery(
            p.days(14, 42), "Transarterial chemoembolisation (TACE)", intent="palliative"
        )
        if first is not None and p.rng.random() < 0.5:
            p.surgery(
                first + p.days(56, 84),
                "Transarterial chemoembolisation (TACE)",
                intent="palliative",
            )
        return
    # Vascular invasion (T4) or nodes: systemic therapy.
    p.palliative_lines(p.days(14, 35))
