"""Which treatments a synthetic patient receives, and when: stage-appropriate pathways.

Early disease: surgery (or stereotactic radiotherapy when unfit) with adjuvant therapy when the
pathology asks for it. Locally advanced: chemoradiotherapy or neoadjuvant therapy then surgery.
Metastatic disease, and recurrence after curative treatment: palliative systemic therapy chosen
by biomarkers and performance status, a second line at progression when the patient is still
fit, palliative radiotherapy for bone or brain metastases. ECOG 3-4 receives best supportive
care. The rules follow the ESMO and NICE pathways of 2020-2024 in simplified form; see
docs/demo-cohort.md.
"""

from __future__ import annotations

import numpy as np

from oncology.demo.treatments import Clinical, Plan, Planner
from oncology.demo.tumours import RECTUM, pathological_tn


def plan_treatment(rng: np.random.Generator, c: Clinical) -> Plan:
    p = Planner(rng, c)
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


def _adjuvant_after(p: Planner, day: int, key: str, cycles: int | None = None) -> int | None:
    return p.systemic(day + p.days(35, 63), key, "adjuvant", cycles=cycles)


def _lung(p: Planner) -> None:
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


def _breast(p: Planner) -> None:
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


def _colorectal(p: Planner) -> None:
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


def _liver(p: Planner) -> None:
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
