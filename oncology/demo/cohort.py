"""Assemble synthetic patients into canonical record payloads.

Each patient is drawn from its own generator, seeded by (cohort seed, patient number), so a
patient does not change when the cohort grows and the same seed always gives the same payloads.
The order of a patient's draws is: tumour, person, biomarkers, course of disease, treatment,
then the record that follows from them (visits, labs, events).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from oncology.clinical.record import RECORD_SECTION_NAMES
from oncology.clinical.tnm import derive_stage, staging_group
from oncology.demo import history, labs, markers, toxicities
from oncology.demo.comorbidities import draw_comorbidities
from oncology.demo.doses import absolute_dose, body_surface_area, cockcroft_gault
from oncology.demo.outcomes import disease_course, stage_bucket
from oncology.demo.pathways import plan_treatment
from oncology.demo.radiotherapy import RT_SCHEDULES
from oncology.demo.regimens import REGIMENS
from oncology.demo.treatments import Clinical, Plan
from oncology.demo.tumours import (
    SITES,
    draw_grade,
    draw_laterality,
    draw_tnm,
    pick,
)

DEFAULT_PATIENTS = 400
DEFAULT_SEED = 20250630
# Data cut-off of the demo cohort: nothing happens after it, follow-up is censored at it.
DATA_CUTOFF = dt.date(2025, 6, 30)
FIRST_DIAGNOSIS = dt.date(2015, 1, 1)
# Diagnoses stop two months before the cut-off so that every patient has begun treatment.
LAST_DIAGNOSIS = DATA_CUTOFF - dt.timedelta(days=60)
_AGE_LIMITS = {"lung": (40, 92), "breast": (28, 92), "colorectal": (30, 92), "liver": (35, 90)}

Payload = dict[str, Any]


def generate_cohort(n_patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED) -> list[Payload]:
    """`n_patients` synthetic patient records (payload dicts), identical for identical
    arguments. Patient i of a cohort is the same whatever `n_patients` is."""
    if n_patients < 0 or n_patients > 999_999:
        raise ValueError("n_patients must be between 0 and 999999")
    return [generate_patient(seed, i) for i in range(1, n_patients + 1)]


def generate_patient(seed: int, number: int) -> Payload:
    rng = np.random.default_rng([seed, number])
    return _PatientBuilder(rng, number).build()


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


class _PatientBuilder:
    def __init__(self, rng: np.random.Generator, number: int) -> None:
        self.rng = rng
        self.number = number
        self.key = f"demo-{number:04d}"
        self.counters: dict[str, int] = {}
        self.sections: dict[str, list[dict[str, Any]]] = {name: [] for name in RECORD_SECTION_NAMES}

    # --- helpers -----------------------------------------------------------------------------

    def ext(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{self.key}-{kind}{self.counters[kind]}"

    def date(self, day: int) -> dt.date:
        return self.dx_date + dt.timedelta(days=int(day))

    def add(self, section: str, kind: str, **fields: Any) -> dict[str, Any]:
        item = {"external_id": self.ext(kind)}
        for name, value in fields.items():
            item[name] = value.isoformat() if isinstance(value, dt.date) else value
        self.sections[section].append(item)
        return item

    # --- the patient -------------------------------------------------------------------------

    def build(self) -> Payload:
        rng = self.rng
        site = pick(rng, {k: s.share for k, s in SITES.items()})
        profile = SITES[site]
        histology = pick(rng, {k: w for k, (_, w) in profile.histology.items()})
        morphology = profile.histology[histology][0]
        topography = pick(rng, profile.topography)
        female = rng.random() >= profile.male_share
        low, high = _AGE_LIMITS[site]
        age = float(np.clip(rng.normal(profile.age_mean, profile.age_sd), low, high))
        span = (LAST_DIAGNOSIS - FIRST_DIAGNOSIS).days
        self.dx_date = FIRST_DIAGNOSIS + dt.timedelta(days=int(rng.integers(0, span + 1)))
        birth = self.dx_date - dt.timedelta(days=int(age * 365.25))
        self.birth = birth
        self.cutoff_day = (DATA_CUTOFF - self.dx_date).days

        t, n, m = draw_tnm(rng, site, histology)
        group = staging_group(topography, morphology)
        stage = derive_stage(group, t, n, m)
        if stage is None:  # every combination the draws produce has a stage group
            raise AssertionError(f"no stage for {site} {t} {n} {m}")
        bucket = stage_bucket(stage)
        grade = draw_grade(rng, site, histology)
        smoking, pack_years = history.draw_smoking(rng, site, histology)
        ecog = history.draw_ecog(rng, bucket, age)
        height, weight = history.draw_body(rng, female=female, bucket=bucket, site=site)
        conditions = draw_comorbidities(rng, site=site, age=age, smoking=smoking)
        marker_values = markers.draw_markers(
            rng,
            site=site,
            histology=histology,
            smoking=smoking,
            topography=topography,
            stage_bucket=bucket,
            grade=grade,
        )
        outcome_site = "sclc" if histology == "sclc" else "nsclc" if site == "lung" else site
        course = disease_course(rng, site=outcome_site, stage_group=stage, ecog=ecog, age=age)
        clinical = Clinical(
            site=site,
            histology=histology,
            topography=topography,
            t=t,
            n=n,
            m=m,
            stage=stage,
            grade=grade,
            ecog=ecog,
            age=age,
            weight_kg=weight,
            markers=marker_values.flags,
            progression_day=course.progression_day,
            death_day=course.death_day,
            cutoff_day=self.cutoff_day,
        )
        plan = plan_treatment(rng, clinical)
        self.clinical = clinical
        self.plan = plan
        dead = course.death_day <= self.cutoff_day
        self.stop = min(course.death_day, self.cutoff_day)

        dx_id = self.ext("dx")
        self.dx_id = dx_id
        diagnosis: dict[str, Any] = {
            "external_id": dx_id,
            "primary_site": topography,
            "morphology": morphology,
            "laterality": draw_laterality(rng, site, topography),
            "diagnosis_date": self.dx_date.isoformat(),
            "grade": grade,
            "clinical_t": t,
            "clinical_n": n,
            "clinical_m": m,
            "clinical_stage": stage,
            "pathological_t": "",
            "pathological_n": "",
            "pathological_m": "",
            "pathological_stage": "",
        }
        if plan.pathological_tn is not None:
            pt, pn = plan.pathological_tn
            # Pathological stage uses the clinical M when no metastasis was biopsied (UICC).
            p_stage = derive_stage(group, pt, pn, m)
            if p_stage is None:
                raise AssertionError(f"no pathological stage for {site} {pt} {pn} {m}")
            diagnosis.update(pathological_t=pt, pathological_n=pn, pathological_stage=p_stage)
        self.sections["diagnoses"].append(diagnosis)

        for name, result, value, day in marker_values.results:
            self.add(
                "biomarkers",
                "bm",
                diagnosis_external_id=dx_id,
                name=name,
                result=result,
                value=value,
                test_date=self.date(day),
            )
        for condition, years_before in conditions:
            onset = self.dx_date - dt.timedelta(days=int(years_before * 365.25))
            adult = birth + dt.timedelta(days=int(18 * 365.25))
            self.sections["comorbidities"].append(
                {
                    "external_id": self.ext("cm"),
                    "condition": condition,
                    "diagnosed_on": max(onset, adult).isoformat(),
                }
            )
        self._treatments(plan, weight=weight, height=height, female=female, age=age)
        self._follow_up(plan, weight=weight, height=height, female=female, age=age)

        last_contact = self.date(course.death_day) if dead else self._last_event_date()
        return {
            "mrn": f"DEMO-{self.number:06d}",
            "given_name": "Demo",
            "family_name": f"Patient-{self.number:04d}",
            "sex": "female" if female else "male",
            "birth_date": birth.isoformat(),
            "care_teams": [profile.care_team],
            "smoking_status": smoking,
            "smoking_pack_years": pack_years,
            "vital_status": "dead" if dead else "alive",
            "death_date": _iso(self.date(course.death_day)) if dead else None,
            "last_contact_date": last_contact.isoformat(),
            **self.sections,
        }

    # --- treatments --------------------------------------------------------------------------

    def _treatments(
        self, plan: Plan, *, weight: float, height: float, female: bool, age: float
    ) -> None:
        creatinine = labs.baseline_creatinine(self.rng, female=female, age=age)
        self.creatinine = creatinine
        bsa = body_surface_area(weight, height)
        gfr = cockcroft_gault(age, weight, creatinine, female)
        for s in plan.surgeries:
            self.add(
                "surgeries",
                "sx",
                diagnosis_external_id=self.dx_id,
                procedure=s.procedure,
                performed_on=self.date(s.day),
                margin_status=s.margin,
                intent=s.intent,
            )
            for term, grade, offset in toxicities.surgical(self.rng, s.procedure):
                self._toxicity(term, grade, s.day + offset, "surgery")
        for r in plan.radiotherapies:
            sched = RT_SCHEDULES[r.schedule]
            self.add(
                "radiotherapies",
                "rt",
                diagnosis_external_id=self.dx_id,
                target=sched.target,
                total_dose_gy=float(sched.total_dose_gy),
                fractions=sched.fractions,
                technique=sched.technique,
                start_date=self.date(r.day),
                end_date=self.date(r.end_day) if r.end_day is not None else None,
                intent=r.intent,
                best_response=r.best_response,
            )
            end = r.end_day if r.end_day is not None else self.stop
            for term, grade, day in toxicities.from_table(self.rng, sched.toxicities, r.day, end):
                self._toxicity(term, grade, day, "radiotherapy")
        for course in plan.systemic:
            reg = REGIMENS[course.regimen]
            drugs = []
            for drug in reg.drugs:
                dose = absolute_dose(drug, bsa=bsa, weight_kg=weight, gfr_ml_min=gfr)
                if drug.name == "lenvatinib" and weight < 60:
                    dose = 8.0  # REFLECT: 8 mg below 60 kg
                drugs.append({"name": drug.name, "dose": dose, "unit": "mg"})
            self.add(
                "systemic_therapies",
                "st",
                diagnosis_external_id=self.dx_id,
                regimen=reg.name,
                category=reg.category,
                drugs=drugs,
                cycles=course.cycles,
                start_date=self.date(course.day),
                end_date=self.date(course.end_day) if course.end_day is not None else None,
                intent=course.intent,
                best_response=course.best_response,
            )
            end = course.end_day if course.end_day is not None else self.stop
            for term, grade, day in toxicities.from_table(
                self.rng, reg.toxicities, course.day, end
            ):
                self._toxicity(term, grade, day, "systemic")

    def _toxicity(self, term: str, grade: int, day: int, cause: str) -> None:
        if day >= self.stop:
            return
        self.add(
            "toxicities",
            "tx",
            term=term,
            grade=grade,
            onset_date=self.date(day),
            attributed_to=cause,
        )

    # --- follow-up ---------------------------------------------------------------------------

    def _visit_days(self, plan: Plan) -> list[int]:
        days = []
        day = 30
        while True:
            interval = 90 if day < 730 else 182 if day < 1826 else 365
            day += interval
            if day > 3652 and self.clinical.progression_day is None:
                break  # discharged from routine follow-up after ten years without disease
            jittered = day + int(self.rng.integers(-14, 15))
            if jittered >= self.stop:
                break
            days.append(jittered)
        return days

    def _follow_up(
        self, plan: Plan, *, weight: float, height: float, female: bool, age: float
    ) -> None:
        c = self.clinical
        prog = (
            c.progression_day
            if c.progression_day is not None and c.progression_day < self.stop
            else None
        )
        death = c.death_day if c.death_day <= self.cutoff_day else None
        first_response = next(
            (s.best_response for s in plan.systemic if s.intent == "palliative"), ""
        )
        ecog_after = min(4, c.ecog + (1 if self.rng.random() < 0.6 else 0))

        self.add(
            "performance_statuses",
            "ps",
            assessed_on=self.date(int(self.rng.integers(0, 8))),
            ecog=c.ecog,
        )
        self.add("measurements", "ms", measured_on=self.date(0), weight_kg=weight, height_cm=height)
        state = labs.LabState(
            site=c.site,
            bucket=c.bucket,
            female=female,
            age=age,
            creatinine=self.creatinine,
            progressed=False,
            markers_high=c.bucket == "IV",
            afp=_float_or_none(c.markers.get("afp")),
        )
        for code, value, unit in labs.panel(self.rng, state, full=True):
            self.add("labs", "lab", code=code, value=value, unit=unit, collected_on=self.date(0))

        if prog is not None:
            event_type = "progression"
            if plan.curative and plan.surgeries and prog > plan.primary_done_day:
                event_type = pick(
                    self.rng,
                    {
                        "distant_recurrence": 0.6,
                        "local_recurrence": 0.25,
                        "regional_recurrence": 0.15,
                    },
                )
            self.add(
                "disease_events",
                "ev",
                diagnosis_external_id=self.dx_id,
                event_type=event_type,
                event_date=self.date(prog),
            )
            self.add("performance_statuses", "ps", assessed_on=self.date(prog), ecog=ecog_after)

        visits = self._visit_days(plan)
        # Bloods at diagnosis and at a few visits (the first two, then yearly for two years).
        lab_visits = set(visits[:2] + visits[2::4][:2])
        for day in visits:
            progressed = prog is not None and day >= prog
            if progressed:
                status = "progressing"
                ecog = ecog_after
            elif plan.curative and (
                day > plan.primary_done_day or any(s.day < day for s in plan.surgeries)
            ):
                status = "ned"
                ecog = c.ecog
            elif first_response in {"CR", "PR"}:
                status = "responding"
                ecog = c.ecog
            else:
                status = "stable"
                ecog = c.ecog
            if death is not None and death - day <= 60:
                ecog = max(ecog, 3)
            self.add(
                "follow_ups", "fu", visit_date=self.date(day), disease_status=status, ecog=ecog
            )
            if day in lab_visits:
                loss = 0.92 if progressed else 1.0
                w = round(weight * loss * float(self.rng.normal(1.0, 0.02)), 1)
                self.add(
                    "measurements", "ms", measured_on=self.date(day), weight_kg=w, height_cm=None
                )
                state.progressed = progressed
                state.markers_high = progressed or (c.bucket == "IV" and status != "responding")
                for code, value, unit in labs.panel(self.rng, state, full=False):
                    self.add(
                        "labs",
                        "lab",
                        code=code,
                        value=value,
                        unit=unit,
                        collected_on=self.date(day),
                    )

    def _last_event_date(self) -> dt.date:
        latest = self.dx_date
        for items in self.sections.values():
            for item in items:
                for key, value in item.items():
                    if (
                        key.endswith(("_date", "_on"))
                        and isinstance(value, str)
                        and key not in {"diagnosed_on"}
                    ):
                        latest = max(latest, dt.date.fromisoformat(value))
        return min(latest, DATA_CUTOFF)
