"""Tumour biomarkers of a synthetic patient, appropriate to the site.

Frequencies (round figures): breast ER+ ~80 %, PR+ in ~80 % of ER+ tumours, HER2+ ~15 %
(lobular ~5 %), Ki-67 median ~20 % (Howlader et al., JNCI 2014;106:dju055; St Gallen 2013);
lung adenocarcinoma in European patients EGFR ~15 % (~45 % of never smokers), ALK ~4 %
(mostly never smokers), KRAS ~30 % of smokers, drivers mutually exclusive; PD-L1 TPS >= 50 %
in ~30 %, 1-49 % in ~30 % (KEYNOTE-024/042 screening); colorectal MSI-high ~15 % of stage I-III
(more in the right colon) and ~4 % of metastatic disease, RAS (KRAS) mutation ~40 %
(Vilar & Gruber 2010; Cancer Genome Atlas 2012); AFP above 400 ng/mL in ~30 % of
hepatocellular carcinoma (REACH-2 screening), recorded as a laboratory value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from oncology.demo.tumours import RIGHT_COLON


@dataclass
class Markers:
    # (name, result, value, day after diagnosis) ready for the payload
    results: list[tuple[str, str, float | None, int]] = field(default_factory=list)
    # what treatment rules look at: "egfr", "alk", "kras", "nras", "er", "her2", "msi" ->
    # result; "pdl1_tps", "afp" -> value
    flags: dict[str, object] = field(default_factory=dict)


def draw_markers(
    rng: np.random.Generator,
    *,
    site: str,
    histology: str,
    smoking: str,
    topography: str,
    stage_bucket: str,
    grade: str,
) -> Markers:
    out = Markers()
    day = int(rng.integers(5, 22))  # pathology reports follow the biopsy by one to three weeks

    def add(flag: str, name: str, result: str, value: float | None) -> None:
        out.results.append((name, result, value, day))
        out.flags[flag] = result

    if site == "breast":
        er_p = 0.95 if histology == "lobular" else 0.55 if grade == "G3" else 0.85
        er = rng.random() < er_p
        add(
            "er",
            "ER",
            "positive" if er else "negative",
            float(rng.integers(50, 101)) if er else float(rng.integers(0, 1)),
        )
        pr = rng.random() < (0.80 if er else 0.05)
        add(
            "pr",
            "PR",
            "positive" if pr else "negative",
            float(rng.integers(10, 101)) if pr else 0.0,
        )
        her2 = rng.random() < (0.05 if histology == "lobular" else 0.16)
        # HER2 value: IHC score; 2+ tumours are resolved by in-situ hybridisation.
        score = (
            float(rng.choice([2, 3], p=[0.3, 0.7]))
            if her2
            else float(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))
        )
        add("her2", "HER2", "positive" if her2 else "negative", score)
        ki67 = float(np.clip(rng.lognormal(np.log(30 if grade == "G3" else 15), 0.5), 1, 95))
        add("ki67", "Ki-67", "positive" if ki67 >= 20 else "negative", round(ki67))
    elif site == "lung":
        if histology == "adenocarcinoma":
            never = smoking == "never"
            driver = rng.random()
            egfr_p = 0.45 if never else 0.08
            alk_p = 0.12 if never else 0.015
            kras_p = 0.08 if never else 0.35
            egfr = driver < egfr_p
            alk = not egfr and driver < egfr_p + alk_p
            kras = not egfr and not alk and driver < egfr_p + alk_p + kras_p
            add("egfr", "EGFR", "positive" if egfr else "negative", None)
            add("alk", "ALK", "positive" if alk else "negative", None)
            add("kras", "KRAS", "positive" if kras else "negative", None)
        if histology in {"adenocarcinoma", "squamous"}:
            band = rng.random()
            if band < 0.30:
                tps = float(rng.integers(50, 101))
            elif band < 0.60:
                tps = float(rng.integers(1, 50))
            else:
                tps = 0.0
            out.results.append(("PD-L1 TPS", "positive" if tps >= 1 else "negative", tps, day))
            out.flags["pdl1_tps"] = tps
    elif site == "colorectal":
        msi_p = 0.04 if stage_bucket == "IV" else 0.25 if topography in RIGHT_COLON else 0.08
        msi = rng.random() < msi_p
        add("msi", "MSI", "positive" if msi else "negative", None)
        # Mismatch-repair immunohistochemistry agrees with MSI testing in >90 % of tumours;
        # "positive" here means deficient (loss of MMR protein expression).
        add("mmr", "MMR", "positive" if msi else "negative", None)
        kras = rng.random() < (0.25 if msi else 0.42)
        add("kras", "KRAS", "positive" if kras else "negative", None)
        nras = not kras and rng.random() < 0.05
        add("nras", "NRAS", "positive" if nras else "negative", None)
        # BRAF V600E: ~8 % overall, mostly in MSI-high right-sided tumours; never with RAS.
        braf = not kras and not nras and rng.random() < (0.35 if msi else 0.05)
        add("braf", "BRAF", "positive" if braf else "negative", None)
    elif site == "liver":
        # AFP is a laboratory value (LOINC 1834-1), not a tissue biomarker: labs.py records it.
        out.flags["afp"] = round(float(np.clip(rng.lognormal(np.log(60), 2.2), 1, 100000)), 1)
    return out
