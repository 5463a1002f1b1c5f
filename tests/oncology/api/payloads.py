"""Synthetic sync payloads (no real person) in the canonical record shape."""

from __future__ import annotations

import copy
from typing import Any

LUNG_RECORD: dict[str, Any] = {
    "mrn": "SYN-0001",
    "given_name": "Ada",
    "family_name": "Synthetic",
    "sex": "female",
    "birth_date": "1958-04-11",
    "care_teams": ["thoracic"],
    "smoking_status": "former",
    "smoking_pack_years": 30.0,
    "vital_status": "alive",
    "last_contact_date": "2024-06-03",
    "diagnoses": [
        {
            "external_id": "dx-1",
            "primary_site": "C34.1",
            "morphology": "8140/3",
            "laterality": "right",
            "diagnosis_date": "2023-02-14",
            "grade": "G2",
            # AJCC/UICC TNM 8th edition, lung: T2a N0 M0 is stage IB.
            "clinical_t": "T2a",
            "clinical_n": "N0",
            "clinical_m": "M0",
            "clinical_stage": "IB",
        }
    ],
    "labs": [
        # LOINC 718-7 haemoglobin, 2160-0 creatinine, 6690-2 leukocytes.
        {
            "external_id": "lab-1",
            "code": "718-7",
            "value": 13.1,
            "unit": "g/dL",
            "collected_on": "2023-02-10",
        },
        {
            "external_id": "lab-2",
            "code": "2160-0",
            "value": 0.9,
            "unit": "mg/dL",
            "collected_on": "2023-02-10",
        },
        {
            "external_id": "lab-3",
            "code": "6690-2",
            "value": 6.2,
            "unit": "10*3/uL",
            "collected_on": "2023-02-10",
        },
    ],
    "surgeries": [
        {
            "external_id": "sx-1",
            "diagnosis_external_id": "dx-1",
            "procedure": "Right upper lobectomy",
            "performed_on": "2023-03-20",
            "margin_status": "R0",
            "intent": "curative",
        }
    ],
    "follow_ups": [
        {"external_id": "fu-1", "visit_date": "2024-06-03", "disease_status": "ned", "ecog": 0}
    ],
}


def lung_record(n: int = 1, **overrides: Any) -> dict[str, Any]:
    record = copy.deepcopy(LUNG_RECORD)
    record["mrn"] = f"SYN-{n:06d}"
    record.update(overrides)
    return record
