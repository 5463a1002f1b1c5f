"""One chest CT from lung segmentation to ranked nodule candidates.

``screen_volume`` is what the screening job calls for each series; its result carries the lung
segmentation, the candidates (best first, at most ``settings.max_candidates``) and the seconds
spent per stage. ``PIPELINE_VERSION`` is stored with every run: change it whenever a change of
code can change the candidates a CT gets.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imaging.dicom.volume import Volume
from imaging.screening.candidates import Candidate, ScreeningSettings, detect_candidates
from imaging.screening.froc import FrocResult, froc, size_band
from imaging.screening.lungs import LungSegmentation, segment_lungs

PIPELINE_VERSION = "screening-1.0"

__all__ = [
    "PIPELINE_VERSION",
    "ScreeningResult",
    "ScreeningSettings",
    "candidate_centre_mm",
    "screen_array",
    "screen_volume",
    "validate_cases",
]


@dataclass
class ScreeningResult:
    lungs: LungSegmentation
    candidates: list[Candidate]
    seconds: dict[str, float] = field(default_factory=dict)
    settings: ScreeningSettings = field(default_factory=ScreeningSettings)

    def summary(self) -> dict[str, Any]:
        """JSON-able overview (no arrays): lung summary, candidate count, top score, times."""
        return {
            "pipeline_version": PIPELINE_VERSION,
            "settings": self.settings.to_dict(),
            "lungs": self.lungs.summary(),
            "candidates": len(self.candidates),
            "top_score": self.candidates[0].score if self.candidates else None,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _hu_array(volume: Volume) -> np.ndarray:
    array = getattr(volume, "array", None)
    if not isinstance(array, np.ndarray):
        raise ValueError("screening needs a Volume with a numpy array of HU values")
    if array.ndim != 3:
        raise ValueError(f"screening needs a 3D CT volume, got an array of shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"the CT must hold integer or float HU values, got dtype {array.dtype}")
    hu = array.astype(np.float32, copy=False)
    if not np.isfinite(hu).all():
        raise ValueError("the CT holds NaN or infinite values")
    return hu


def screen_volume(volume: Volume, settings: ScreeningSettings | None = None) -> ScreeningResult:
    """Segment the lungs of ``volume`` (CT in HU, int16 or float) and rank nodule candidates."""
    settings = settings or ScreeningSettings()
    if not isinstance(settings, ScreeningSettings):
        raise ValueError("settings must be a ScreeningSettings")
    hu = _hu_array(volume)
    spacing = tuple(float(s) for s in volume.spacing)
    if len(spacing) != 3 or not all(s > 0 for s in spacing):
        raise ValueError(f"spacing must be three positive mm values, got {volume.spacing!r}")
    sp3 = (spacing[0], spacing[1], spacing[2])
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    lungs = segment_lungs(hu, sp3)
    seconds["lungs"] = time.perf_counter() - started
    candidates = detect_candidates(hu, sp3, lungs.mask, settings, seconds=seconds)
    seconds["total"] = time.perf_counter() - started
    return ScreeningResult(lungs=lungs, candidates=candidates, seconds=seconds, settings=settings)


def candidate_centre_mm(volume: Volume, candidate: Candidate) -> tuple[float, float, float]:
    """LPS position (mm) of a candidate's centre, through the volume's index-to-patient matrix
    (which takes (x, y, z) indices; the candidate's centre is (z, y, x))."""
    z, y, x = candidate.centre_voxel
    point = volume.index_to_patient_matrix() @ np.array([x, y, z, 1.0])
    return (float(point[0]), float(point[1]), float(point[2]))


def screen_array(
    hu: np.ndarray, spacing: tuple[float, float, float], settings: ScreeningSettings | None = None
) -> ScreeningResult:
    """``screen_volume`` for a bare (z, y, x) HU array and its spacing (validation, benchmark)."""
    return screen_volume(Volume(array=hu, spacing=spacing, origin=(0.0, 0.0, 0.0)), settings)


@dataclass
class CaseOutcome:
    """One validation case: which truths were hit by which candidate rank, and the times."""

    name: str
    n_truths: int
    n_candidates: int
    hit_rank: dict[str, int | None]  # truth label -> best rank (0 = top) of a hitting candidate
    seconds: dict[str, float]
    lung_volume_ml: float | None


@dataclass
class ScreeningValidation:
    overall: FrocResult
    by_size: FrocResult
    by_type: FrocResult
    by_attachment: FrocResult
    solid_6mm: FrocResult  # group "solid >= 6 mm" only
    cases: list[CaseOutcome]

    def goals(self) -> dict[str, tuple[float, float, bool]]:
        """Issue 10's goals: (value, goal, met)."""
        mean = self.overall.mean_sensitivity
        group = self.solid_6mm.groups.get(SOLID_6MM_GROUP)
        solid = group.sensitivity_at[4.0] if group is not None else float("nan")
        return {
            "mean sensitivity over 1/8..8 FP/scan": (mean, 0.85, mean >= 0.85),
            "solid >= 6 mm at 4 FP/scan": (solid, 0.95, solid >= 0.95),
        }


SOLID_6MM_GROUP = "solid >= 6 mm"


def _solid_6mm(meta: dict[str, Any]) -> str | None:
    if meta.get("nodule_type") == "solid" and float(meta.get("diameter_mm", 0.0)) >= 6.0:
        return SOLID_6MM_GROUP
    return None


def validate_cases(
    cases: Iterable[Any], settings: ScreeningSettings | None = None
) -> ScreeningValidation:
    """Screen every case (objects with name, hu, spacing and truths of centre_voxel (z, y, x),
    diameter_mm, nodule_type, attachment, label; e.g. imaging.screening.testset's cases) and
    compute the LUNA16 FROC overall, by size band, by type, by attachment and for solid >= 6 mm.
    Positions are compared in mm of the voxel grid (index * spacing)."""
    scans: list[tuple[np.ndarray, np.ndarray]] = []
    truths: list[list[tuple[np.ndarray, float, dict[str, Any]]]] = []
    outcomes: list[CaseOutcome] = []
    for case in cases:
        spacing = np.array([float(s) for s in case.spacing])
        result = screen_array(np.asarray(case.hu), (spacing[0], spacing[1], spacing[2]), settings)
        centres = np.array([c.centre_voxel for c in result.candidates]).reshape(-1, 3) * spacing
        scores = np.array([c.score for c in result.candidates])
        scan_truth = []
        hit_rank: dict[str, int | None] = {}
        for t in case.truths:
            centre = np.asarray(t.centre_voxel, float) * spacing
            meta = {
                "size": size_band(float(t.diameter_mm)),
                "nodule_type": str(t.nodule_type),
                "attachment": str(getattr(t, "attachment", "none")),
                "diameter_mm": float(t.diameter_mm),
                "label": str(t.label),
            }
            scan_truth.append((centre, float(t.diameter_mm), meta))
            dist = np.sqrt(((centres - centre) ** 2).sum(axis=1)) if len(centres) else np.zeros(0)
            ranks = np.flatnonzero(dist < float(t.diameter_mm) / 2.0)
            hit_rank[str(t.label)] = int(ranks[0]) if len(ranks) else None
        scans.append((centres, scores))
        truths.append(scan_truth)
        volumes = result.lungs.summary().get("volumes_ml", {})
        total = volumes.get("total") if isinstance(volumes, dict) else None
        outcomes.append(
            CaseOutcome(
                name=str(case.name),
                n_truths=len(scan_truth),
                n_candidates=len(result.candidates),
                hit_rank=hit_rank,
                seconds=dict(result.seconds),
                lung_volume_ml=float(total) if total is not None else None,
            )
        )
    if not scans:
        raise ValueError("no validation cases were given")
    return ScreeningValidation(
        overall=froc(scans, truths),
        by_size=froc(scans, truths, group_by="size"),
        by_type=froc(scans, truths, group_by="nodule_type"),
        by_attachment=froc(scans, truths, group_by="attachment"),
        solid_6mm=froc(scans, truths, group_by=_solid_6mm),
        cases=outcomes,
    )
