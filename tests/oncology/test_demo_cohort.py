"""The synthetic demo cohort generator (oncology/demo): reproducible, clinically coherent
payloads that pass the clinical library's checks. No database."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from functools import cache
from typing import Any

import numpy as np
import pytest

from oncology.clinical import charlson, labs
from oncology.clinical.biomarkers import BIOMARKERS, validate_biomarker
from oncology.clinical.icdo3 import validate_morphology_for_site
from oncology.clinical.labs import validate_lab
from oncology.clinical.record import (
    RECORD_SECTION_NAMES,
    SECTION_DATE_FIELDS,
    validate_patient_record,
    validate_record_dates,
    validate_section,
)
from oncology.clinical.tnm import derive_stage, staging_group, validate_tnm
from oncology.clinical.toxicity import validate_toxicity
from oncology.clinical.treatments import validate_cycles, validate_drugs, validate_radiotherapy
from oncology.demo import DATA_CUTOFF, generate_cohort
from oncology.demo.cohort import generate_patient
from oncology.demo.doses import absolute_dose, body_surface_area, cockcroft_gault
from oncology.demo.outcomes import OUTCOMES, _other_cause_years, disease_course
from oncology.demo.regimens import Drug
from oncology.demo.tumours import SITES

SECTIONS = RECORD_SECTION_NAMES


@cache
def _cohort() -> tuple[dict[str, Any], ...]:
    return tuple(generate_cohort(400))


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _site(patient: dict[str, Any]) -> str:
    return {"thoracic": "lung", "breast": "breast", "colorectal": "colorectal"}.get(
        patient["care_teams"][0], "liver"
    )


def _bucket(stage: str) -> str:
    return next(b for b in ("IV", "III", "II", "I") if stage.startswith(b))


# --- reproducibility ----------------------------------------------------------------------------


def test_same_seed_gives_identical_payloads() -> None:
    assert generate_cohort(25, seed=7) == generate_cohort(25, seed=7)


def test_different_seed_gives_different_patients() -> None:
    a, b = generate_cohort(25, seed=7), generate_cohort(25, seed=8)
    assert sum(x != y for x, y in zip(a, b, strict=True)) >= 20


def test_a_patient_does_not_change_when_the_cohort_grows() -> None:
    assert generate_cohort(10, seed=3)[:4] == generate_cohort(4, seed=3)
    assert generate_patient(3, 9) == generate_cohort(10, seed=3)[8]


def test_default_cohort_has_400_patients_with_unique_mrns() -> None:
    cohort = _cohort()
    assert len(cohort) == 400
    assert len({p["mrn"] for p in cohort}) == 400
    assert cohort[0]["mrn"] == "DEMO-000001"
    assert cohort[399]["mrn"] == "DEMO-000400"


# --- identity: obviously synthetic --------------------------------------------------------------


def test_names_are_obviously_synthetic() -> None:
    for number, p in enumerate(_cohort(), start=1):
        assert p["given_name"] == "Demo"
        assert p["family_name"] == f"Patient-{number:04d}"
        assert "is_synthetic" not in p  # set by the loader, not part of the payload


def test_external_ids_are_unique_within_a_patient_and_name_the_patient() -> None:
    for p in _cohort()[:100]:
        number = p["mrn"][-4:]
        ids = [item["external_id"] for s in SECTIONS for item in p[s]]
        assert len(ids) == len(set(ids))
        assert all(i.startswith(f"demo-{number}-") for i in ids)
        dx_ids = {d["external_id"] for d in p["diagnoses"]}
        for section in ("biomarkers", "surgeries", "radiotherapies", "systemic_therapies"):
            assert all(item["diagnosis_external_id"] in dx_ids for item in p[section])


# --- epidemiology -----------------------------------------------------------------------------


def test_site_proportions_match_the_configured_shares() -> None:
    counts = Counter(_site(p) for p in _cohort())
    for key, profile in SITES.items():
        expected = 400 * profile.share
        sd = math.sqrt(400 * profile.share * (1 - profile.share))
        assert abs(counts[key] - expected) < 4 * sd, (key, counts[key])
    # Breast, lung and colorectal each outnumber liver (UK incidence, CRUK 2016-2018).
    assert min(counts["lung"], counts["breast"], counts["colorectal"]) > 2 * counts["liver"]


def test_lung_histology_is_mostly_non_small_cell_with_some_small_cell() -> None:
    lung = [p["diagnoses"][0]["morphology"] for p in _cohort() if _site(p) == "lung"]
    counts = Counter(lung)
    assert set(counts) == {"8140/3", "8070/3", "8041/3"}
    assert 0.07 < counts["8041/3"] / len(lung) < 0.25  # SCLC ~15 % of lung cancer
    assert counts["8140/3"] > counts["8070/3"]  # adenocarcinoma the commonest


def test_breast_cancer_is_almost_all_female_and_liver_cancer_mostly_male() -> None:
    sex = {
        site: Counter(p["sex"] for p in _cohort() if _site(p) == site)
        for site in ("breast", "liver")
    }
    assert sex["breast"]["female"] / sum(sex["breast"].values()) > 0.95
    assert sex["liver"]["male"] / sum(sex["liver"].values()) > 0.55


def test_ages_at_diagnosis_are_adult_and_realistic() -> None:
    ages = []
    for p in _cohort():
        dx = _d(p["diagnoses"][0]["diagnosis_date"])
        birth = _d(p["birth_date"])
        assert dx
        assert birth
        ages.append((dx - birth).days / 365.25)
    assert min(ages) >= 27.9
    assert max(ages) <= 92.1
    assert 62 <= float(np.median(ages)) <= 72  # median age at diagnosis ~67-70 (CRUK)


def test_smokers_are_more_common_in_lung_cancer() -> None:
    def ever(site_is_lung: bool) -> float:
        group = [p for p in _cohort() if (_site(p) == "lung") == site_is_lung]
        return sum(p["smoking_status"] != "never" for p in group) / len(group)

    assert ever(True) > 0.8
    assert ever(True) > ever(False) + 0.25
    for p in _cohort():
        assert (p["smoking_pack_years"] is None) == (p["smoking_status"] == "never")


def test_comorbidities_use_charlson_keys_and_rise_with_age() -> None:
    young, old = [], []
    for p in _cohort():
        keys = [c["condition"] for c in p["comorbidities"]]
        assert set(keys) <= charlson.CONDITIONS.keys()
        assert len(keys) == len(set(keys))
        assert "metastatic_solid_tumour" not in keys  # the index cancer is not a comorbidity
        age = (_d(p["diagnoses"][0]["diagnosis_date"]) - _d(p["birth_date"])).days / 365.25
        (old if age >= 75 else young if age < 60 else []).append(len(keys))
    assert np.mean(old) > np.mean(young)


def test_most_hepatocellular_carcinoma_patients_have_liver_disease() -> None:
    liver = [p for p in _cohort() if _site(p) == "liver"]
    with_cirrhosis = [
        p
        for p in liver
        if {"mild_liver", "moderate_severe_liver"} & {c["condition"] for c in p["comorbidities"]}
    ]
    assert len(with_cirrhosis) / len(liver) > 0.6  # EASL 2018: HCC arises in cirrhosis mostly


# --- staging ------------------------------------------------------------------------------------


def test_stage_groups_equal_the_tnm_8th_derivation() -> None:
    for p in _cohort():
        d = p["diagnoses"][0]
        group = staging_group(d["primary_site"], d["morphology"])
        assert group == _site(p)
        assert d["clinical_stage"] == derive_stage(
            group, d["clinical_t"], d["clinical_n"], d["clinical_m"]
        )
        if d["pathological_t"]:
            assert d["pathological_stage"] == derive_stage(
                group, d["pathological_t"], d["pathological_n"], d["clinical_m"]
            )


def test_stage_groups_pinned_against_the_published_tables() -> None:
    # Independent of derive_stage: examples read off the UICC 8th edition tables.
    pinned = {
        ("lung", "T1b", "N0", "M0"): "IA2",
        ("lung", "T3", "N2", "M0"): "IIIB",
        ("lung", "T2a", "N1", "M1c"): "IVB",
        ("breast", "T2", "N0", "M0"): "IIA",
        ("breast", "T3", "N1", "M0"): "IIIA",
        ("colorectal", "T4b", "N0", "M0"): "IIC",
        ("colorectal", "T3", "N2b", "M0"): "IIIC",
        ("liver", "T3", "N0", "M0"): "IIIA",
    }
    seen = 0
    for p in _cohort():
        d = p["diagnoses"][0]
        key = (_site(p), d["clinical_t"], d["clinical_n"], d["clinical_m"])
        if key in pinned:
            assert d["clinical_stage"] == pinned[key]
            seen += 1
    assert seen >= 10


def test_stage_mix_is_realistic_per_site() -> None:
    by_site: dict[str, Counter[str]] = {}
    for p in _cohort():
        by_site.setdefault(_site(p), Counter())[_bucket(p["diagnoses"][0]["clinical_stage"])] += 1
    lung, breast = by_site["lung"], by_site["breast"]
    # Lung cancer is metastatic at diagnosis in ~45-50 %, breast cancer in ~5 % (NCRAS).
    assert 0.3 < lung["IV"] / sum(lung.values()) < 0.65
    assert breast["IV"] / sum(breast.values()) < 0.15
    assert breast["I"] + breast["II"] > 0.6 * sum(breast.values())


def test_diagnoses_pass_the_clinical_code_and_staging_checks() -> None:
    for p in _cohort():
        d = p["diagnoses"][0]
        group = staging_group(d["primary_site"], d["morphology"])
        issues = (
            validate_tnm(
                group, d["clinical_t"], d["clinical_n"], d["clinical_m"], d["clinical_stage"]
            )
            + validate_tnm(
                group,
                d["pathological_t"],
                d["pathological_n"],
                d["pathological_m"],
                d["pathological_stage"],
                "pathological",
            )
            + validate_morphology_for_site(d["primary_site"], d["morphology"])
        )
        assert issues == []


# --- biomarkers, labs, treatments ---------------------------------------------------------------


def test_biomarkers_are_those_of_the_site_and_pass_validation() -> None:
    expected = {
        "breast": {"ER", "PR", "HER2", "Ki-67"},
        "colorectal": {"MSI", "MMR", "KRAS", "NRAS", "BRAF"},
        "liver": set(),
    }
    for p in _cohort():
        names = {b["name"] for b in p["biomarkers"]}
        assert names <= BIOMARKERS.keys()
        morphology = p["diagnoses"][0]["morphology"]
        if _site(p) == "lung":
            want = {
                "8140/3": {"EGFR", "ALK", "KRAS", "PD-L1 TPS"},
                "8070/3": {"PD-L1 TPS"},
                "8041/3": set(),
            }[morphology]
            assert names == want
        else:
            assert names == expected[_site(p)]
        for b in p["biomarkers"]:
            assert validate_biomarker(b["name"], b["result"], b["value"]) == []
        drivers = [b["name"] for b in p["biomarkers"] if b["name"] in {"EGFR", "ALK", "KRAS"}]
        positive = [
            b for b in p["biomarkers"] if b["name"] in drivers and b["result"] == "positive"
        ]
        assert len(positive) <= 1  # lung drivers are mutually exclusive


def test_breast_receptor_frequencies_are_realistic() -> None:
    results: dict[str, Counter[str]] = {"ER": Counter(), "HER2": Counter()}
    for p in _cohort():
        for b in p["biomarkers"]:
            if b["name"] in results:
                results[b["name"]][b["result"]] += 1
    er = results["ER"]["positive"] / sum(results["ER"].values())
    her2 = results["HER2"]["positive"] / sum(results["HER2"].values())
    assert 0.65 < er < 0.92  # ~80 % ER-positive (Howlader 2014)
    assert 0.04 < her2 < 0.28  # ~15 % HER2-positive


def test_lab_values_use_accepted_loinc_codes_and_units() -> None:
    for p in _cohort():
        for lab in p["labs"]:
            assert lab["code"] in labs.LABS
            assert validate_lab(lab["code"], lab["value"], lab["unit"]) == []


def test_hepatocellular_carcinoma_has_afp_and_colorectal_has_cea_at_diagnosis() -> None:
    for p in _cohort():
        dx = p["diagnoses"][0]["diagnosis_date"]
        codes = {lab["code"] for lab in p["labs"] if lab["collected_on"] == dx}
        if _site(p) == "liver":
            assert "1834-1" in codes
        if _site(p) == "colorectal":
            assert "2039-6" in codes


def test_treatments_pass_dose_cycle_and_fractionation_checks() -> None:
    for p in _cohort():
        for st in p["systemic_therapies"]:
            assert validate_drugs(st["drugs"]) == []
            assert validate_cycles(st["cycles"]) == []
        for rt in p["radiotherapies"]:
            assert (
                validate_radiotherapy(rt["total_dose_gy"], rt["fractions"], rt["technique"]) == []
            )


def test_metastatic_patients_get_no_curative_surgery_and_only_palliative_systemic_therapy() -> None:
    metastatic = [p for p in _cohort() if _bucket(p["diagnoses"][0]["clinical_stage"]) == "IV"]
    assert len(metastatic) > 60
    for p in metastatic:
        assert all(s["intent"] != "curative" for s in p["surgeries"])
        assert all(s["intent"] == "palliative" for s in p["systemic_therapies"])


def test_adjuvant_therapy_follows_surgery_and_neoadjuvant_precedes_it() -> None:
    for p in _cohort():
        operations = sorted(_d(s["performed_on"]) for s in p["surgeries"])
        for course in p["systemic_therapies"] + p["radiotherapies"]:
            if course["intent"] == "adjuvant":
                assert operations
                assert _d(course["start_date"]) > operations[0]
            if course["intent"] == "neoadjuvant" and operations:
                assert _d(course["start_date"]) < operations[0]


def test_egfr_mutant_metastatic_lung_cancer_is_treated_with_osimertinib() -> None:
    treated = 0
    for p in _cohort():
        egfr = any(b["name"] == "EGFR" and b["result"] == "positive" for b in p["biomarkers"])
        stage = p["diagnoses"][0]["clinical_stage"]
        first = next((s for s in p["systemic_therapies"] if s["intent"] == "palliative"), None)
        if egfr and stage.startswith("IV") and first is not None:
            assert first["regimen"] == "Osimertinib"
            treated += 1
    assert treated >= 1


def test_radiotherapy_schedules_are_standard() -> None:
    # RCR dose-fractionation 2019: the demo's schedules, total Gy / fractions.
    standard = {
        (60.0, 30), (55.0, 20), (54.0, 3), (60.0, 8), (45.0, 30), (25.0, 10), (20.0, 5),
        (8.0, 1), (21.0, 1), (26.0, 5), (40.0, 15), (45.0, 25), (25.0, 5), (45.0, 3),
    }  # fmt: skip
    for p in _cohort():
        for rt in p["radiotherapies"]:
            assert (rt["total_dose_gy"], rt["fractions"]) in standard


# --- dose formulas, pinned to their published definitions -------------------------------------


def test_body_surface_area_is_mosteller() -> None:
    # Mosteller, N Engl J Med 1987;317:1098: sqrt(170 cm x 70 kg / 3600) = 1.818 m2.
    assert body_surface_area(70, 170) == pytest.approx(1.8181, abs=1e-4)


def test_carboplatin_dose_is_calvert_with_gfr_capped_at_125() -> None:
    carboplatin = Drug("carboplatin", 5, "AUC")
    # Calvert, J Clin Oncol 1989;7:1748: dose = AUC x (GFR + 25) = 5 x 125 = 625 mg.
    assert absolute_dose(carboplatin, bsa=1.8, weight_kg=70, gfr_ml_min=100) == 630  # 10 mg steps
    assert absolute_dose(carboplatin, bsa=1.8, weight_kg=70, gfr_ml_min=200) == 750


def test_cockcroft_gault_in_si_units() -> None:
    # 60-year-old man, 72 kg, creatinine 1.0 mg/dL (88.4 umol/L): (140-60) x 72 / (72 x 1.0)
    # = 80 mL/min in the original mg/dL form (Cockcroft & Gault, Nephron 1976;16:31).
    assert cockcroft_gault(60, 72, 88.4, female=False) == pytest.approx(80, rel=0.01)
    assert cockcroft_gault(60, 72, 88.4, female=True) == pytest.approx(80 * 0.85, rel=0.01)


def test_drug_doses_are_in_mg_and_scale_with_body_size() -> None:
    for p in _cohort():
        for st in p["systemic_therapies"]:
            for drug in st["drugs"]:
                assert drug["unit"] == "mg"
                if drug["name"] == "paclitaxel" and st["regimen"].startswith("Paclitaxel weekly"):
                    assert 80 * 1.3 <= drug["dose"] <= 80 * 2.7  # 80 mg/m2, BSA 1.3-2.7


# --- survival model -------------------------------------------------------------------------


def test_time_to_progression_has_the_tabulated_median() -> None:
    rng = np.random.default_rng(1)
    days = [
        disease_course(rng, site="nsclc", stage_group="IVA", ecog=0, age=40).progression_day
        for _ in range(4000)
    ]
    observed = [d for d in days if d is not None]
    median_months = float(np.median(observed)) / (365.25 / 12)
    # Other-cause death at 40 is rare, so the median is the table's 7 months.
    assert median_months == pytest.approx(OUTCOMES["nsclc"]["IV"].ttp, rel=0.08)


def test_the_cured_fraction_is_the_tabulated_one_and_shrinks_with_poor_performance() -> None:
    rng = np.random.default_rng(4)

    def never_progress(ecog: int) -> float:
        courses = [
            disease_course(rng, site="colorectal", stage_group="IIIB", ecog=ecog, age=30)
            for _ in range(6000)
        ]
        return sum(c.progression_day is None for c in courses) / len(courses)

    cure = OUTCOMES["colorectal"]["III"].cure
    assert never_progress(0) == pytest.approx(cure, abs=0.03)
    # Promotion-time cure model: cure fraction p becomes p ** HR (HR 2.2 for ECOG 2).
    assert never_progress(2) == pytest.approx(cure**2.2, abs=0.03)


def test_other_cause_mortality_is_about_one_percent_a_year_at_65() -> None:
    rng = np.random.default_rng(2)
    years = np.array([_other_cause_years(rng, 65) for _ in range(40000)])
    # England & Wales life tables 2017-2019: q(65) ~ 0.9-1.4 % (both sexes).
    assert 0.008 < float(np.mean(years < 1)) < 0.016


def test_poor_performance_status_shortens_survival() -> None:
    rng = np.random.default_rng(3)

    def median_death(ecog: int) -> float:
        return float(
            np.median(
                [
                    disease_course(
                        rng, site="colorectal", stage_group="IVA", ecog=ecog, age=60
                    ).death_day
                    for _ in range(2000)
                ]
            )
        )

    assert median_death(2) < 0.75 * median_death(0)


def test_stage_iv_patients_die_sooner_than_stage_i() -> None:
    def two_year_mortality(bucket: str) -> float:
        group = [
            p
            for p in _cohort()
            if _bucket(p["diagnoses"][0]["clinical_stage"]) == bucket
            and _d(p["diagnoses"][0]["diagnosis_date"]) <= DATA_CUTOFF - dt.timedelta(days=730)
        ]
        dead = [
            p
            for p in group
            if p["death_date"]
            and (_d(p["death_date"]) - _d(p["diagnoses"][0]["diagnosis_date"])).days < 730
        ]
        return len(dead) / len(group)

    assert two_year_mortality("IV") > 0.4
    assert two_year_mortality("I") < 0.15


# --- dates -----------------------------------------------------------------------------------


def _dates(p: dict[str, Any]) -> list[tuple[str, dt.date]]:
    out = []
    for section in SECTIONS:
        for item in p[section]:
            for key, value in item.items():
                if key.endswith(("_date", "_on")) and value:
                    out.append((f"{section}.{key}", dt.date.fromisoformat(value)))
    return out


def test_every_date_lies_between_birth_and_the_cut_off_or_death() -> None:
    for p in _cohort():
        birth = _d(p["birth_date"])
        death = _d(p["death_date"])
        end = min(death, DATA_CUTOFF) if death else DATA_CUTOFF
        assert birth is not None
        for name, value in _dates(p):
            assert birth < value <= end, (p["mrn"], name)
        assert _d(p["last_contact_date"]) <= end
        assert (p["vital_status"] == "dead") == (death is not None)


def test_clinical_events_follow_the_diagnosis_and_courses_end_after_they_start() -> None:
    for p in _cohort():
        dx = _d(p["diagnoses"][0]["diagnosis_date"])
        for name, value in _dates(p):
            if not name.startswith("comorbidities"):
                assert value >= dx, (p["mrn"], name)
        for course in p["systemic_therapies"] + p["radiotherapies"]:
            if course["end_date"]:
                assert course["end_date"] >= course["start_date"]


def test_death_follows_progression_when_cancer_progressed() -> None:
    for p in _cohort():
        events = [_d(e["event_date"]) for e in p["disease_events"]]
        assert len(events) <= 1
        if events and p["death_date"]:
            assert events[0] <= _d(p["death_date"])
        statuses = [f["disease_status"] for f in p["follow_ups"]]
        if "progressing" in statuses:
            assert events  # a progressing visit needs a recorded progression
            assert "ned" not in statuses[statuses.index("progressing") :]


def test_toxicities_are_ctcae_terms_with_grades_the_term_defines() -> None:
    terms: Counter[str] = Counter()
    for p in _cohort():
        for tox in p["toxicities"]:
            assert validate_toxicity(tox["term"], tox["grade"]) == []
            assert tox["attributed_to"] in {"surgery", "radiotherapy", "systemic"}
            terms[tox["term"]] += 1
    # Chemotherapy's commonest events dominate; severe-only terms keep their floor.
    assert terms["neutropenia"] > terms["pneumonitis"]
    assert all(
        t["grade"] >= 3
        for p in _cohort()
        for t in p["toxicities"]
        if t["term"] == "febrile_neutropenia"
    )


# --- the clinical library's own record checks --------------------------------------------------


def _python_values(section: str, item: dict[str, Any]) -> dict[str, Any]:
    dates = SECTION_DATE_FIELDS[section]
    return {
        k: dt.date.fromisoformat(v) if k in dates and isinstance(v, str) else v
        for k, v in item.items()
        if k not in {"external_id", "diagnosis_external_id", "care_teams", *SECTIONS}
    }


def test_every_record_passes_validate_section_and_the_cross_record_date_checks() -> None:
    for p in _cohort():
        patient = _python_values("patient", p)
        sections = {s: [_python_values(s, item) for item in p[s]] for s in SECTIONS}
        for section, items in sections.items():
            for item in items:
                assert validate_section(section, item, include_warnings=True) == [], section
        assert validate_section("patient", patient, include_warnings=True) == []
        assert validate_record_dates(patient, sections, DATA_CUTOFF) == []
        assert validate_patient_record(patient, sections, DATA_CUTOFF, include_warnings=True) == []
