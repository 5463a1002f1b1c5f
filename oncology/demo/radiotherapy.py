"""Radiotherapy schedules the demo cohort receives, with the toxicities each commonly causes.

Standard total dose / fractions from the Royal College of Radiologists, "Radiotherapy dose
fractionation", 3rd edition (2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oncology.demo.regimens import Toxicity

_FATIGUE = Toxicity("fatigue", 0.50, 0.06)
_NAUSEA = Toxicity("nausea", 0.40, 0.05)
_DIARRHOEA = Toxicity("diarrhoea", 0.30, 0.12)
_ALOPECIA = Toxicity("alopecia", 0.50, 0.0)


@dataclass(frozen=True)
class RadiotherapySchedule:
    target: str
    total_dose_gy: float
    fractions: int
    technique: str
    days: int  # overall treatment time, first to last fraction
    toxicities: Sequence[Toxicity] = ()


_DERMATITIS = Toxicity("radiation_dermatitis", 0.80, 0.05)
_OESOPHAGITIS = Toxicity("oesophagitis", 0.50, 0.10)
_RT_PNEUMONITIS = Toxicity("pneumonitis", 0.12, 0.20)
_PROCTITIS = Toxicity("proctitis", 0.30, 0.05)

RT_SCHEDULES: dict[str, RadiotherapySchedule] = {
    "lung_radical": RadiotherapySchedule(
        "Lung primary and involved nodes",
        60,
        30,
        "IMRT",
        40,
        (_OESOPHAGITIS, _RT_PNEUMONITIS, _FATIGUE),
    ),
    "lung_radical_55": RadiotherapySchedule(
        "Lung primary and involved nodes",
        55,
        20,
        "IMRT",
        26,
        (_OESOPHAGITIS, _RT_PNEUMONITIS, _FATIGUE),
    ),
    "lung_sabr_peripheral": RadiotherapySchedule(
        "Peripheral lung tumour (SABR)", 54, 3, "SBRT", 8, (_RT_PNEUMONITIS, _FATIGUE)
    ),
    "lung_sabr_central": RadiotherapySchedule(
        "Lung tumour near the mediastinum (SABR)", 60, 8, "SBRT", 16, (_RT_PNEUMONITIS, _FATIGUE)
    ),
    "sclc_thoracic_bd": RadiotherapySchedule(
        "Thorax, twice daily", 45, 30, "IMRT", 19, (_OESOPHAGITIS, _RT_PNEUMONITIS, _FATIGUE)
    ),
    "pci": RadiotherapySchedule(
        "Prophylactic cranial irradiation", 25, 10, "3DCRT", 13, (_FATIGUE, _ALOPECIA)
    ),
    "thorax_palliative": RadiotherapySchedule(
        "Thorax (palliative)", 20, 5, "3DCRT", 6, (_OESOPHAGITIS, _FATIGUE)
    ),
    "bone_single": RadiotherapySchedule("Painful bone metastasis", 8, 1, "3DCRT", 0, (_FATIGUE,)),
    "bone_5": RadiotherapySchedule("Painful bone metastasis", 20, 5, "3DCRT", 6, (_FATIGUE,)),
    "brain_srs": RadiotherapySchedule("Brain metastasis (radiosurgery)", 21, 1, "SRS", 0, ()),
    "breast_fast_forward": RadiotherapySchedule(
        "Whole breast", 26, 5, "3DCRT", 4, (_DERMATITIS, _FATIGUE)
    ),
    "breast_40_15": RadiotherapySchedule(
        "Chest wall and regional nodes", 40, 15, "3DCRT", 20, (_DERMATITIS, _FATIGUE)
    ),
    "rectum_long": RadiotherapySchedule(
        "Pelvis (rectum and mesorectum)", 45, 25, "IMRT", 33, (_PROCTITIS, _DIARRHOEA, _FATIGUE)
    ),
    "rectum_short": RadiotherapySchedule(
        "Pelvis (rectum and mesorectum), short course",
        25,
        5,
        "3DCRT",
        4,
        (_PROCTITIS, _DIARRHOEA),
    ),
    "liver_sbrt": RadiotherapySchedule(
        "Liver tumour (SABR)", 45, 3, "SBRT", 8, (_FATIGUE, _NAUSEA)
    ),
}
