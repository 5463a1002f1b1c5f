"""FROC analysis as in the LUNA16 challenge (Setio et al., Med Image Anal 2017;42:1-13).

Rules (those of LUNA16's evaluation script, noduleCADEvaluationLUNA16.py):

* A candidate *hits* a nodule when its centre lies strictly within the nodule's radius
  (distance < diameter / 2) of the nodule's centre, in mm.
* A candidate hitting several nodules counts for each of them.
* Several candidates hitting one nodule: only the highest-scoring one counts (a true positive);
  the others are ignored, neither true nor false positives.
* A candidate hitting no nodule is a false positive.
* Candidates of all scans are pooled and ranked by score. At each threshold the sensitivity is
  (nodules hit) / (all nodules) and the false-positive rate is (false positives) / (scans).
  The sensitivity at the rates 1/8, 1/4, 1/2, 1, 2, 4, 8 FP/scan is read off the curve by linear
  interpolation (numpy.interp, as LUNA16 does), and their mean is the competition score.

Per-group analyses (size band, type): only the group's nodules count as truth; candidates hitting
a nodule of another group are ignored, false positives stay those hitting no nodule at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LUNA16_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

Truth = tuple[Sequence[float] | np.ndarray, float, dict[str, Any]]
Scan = tuple[np.ndarray, np.ndarray]


@dataclass
class FrocResult:
    sensitivity_at: dict[float, float]
    mean_sensitivity: float
    fps_per_scan: np.ndarray  # the curve, one point per distinct score threshold
    sensitivity: np.ndarray
    thresholds: np.ndarray
    n_nodules: int
    n_scans: int
    n_detected: int  # nodules hit at the lowest threshold
    groups: dict[str, FrocResult] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures (no curve arrays)."""
        return {
            "sensitivity_at": {str(k): round(v, 4) for k, v in self.sensitivity_at.items()},
            "mean_sensitivity": round(self.mean_sensitivity, 4),
            "n_nodules": self.n_nodules,
            "n_scans": self.n_scans,
            "n_detected": self.n_detected,
            "groups": {k: g.summary() for k, g in self.groups.items()},
        }


def _validate(scans: Sequence[Scan], truths: Sequence[Sequence[Truth]]) -> None:
    if len(scans) == 0:
        raise ValueError("FROC needs at least one scan")
    if len(scans) != len(truths):
        raise ValueError(f"{len(scans)} scans of candidates but {len(truths)} lists of truths")
    for i, (centres, scores) in enumerate(scans):
        c = np.asarray(centres, dtype=float).reshape(-1, 3) if len(centres) else np.zeros((0, 3))
        s = np.asarray(scores, dtype=float).reshape(-1)
        if len(c) != len(s):
            raise ValueError(f"scan {i}: {len(c)} candidate centres but {len(s)} scores")
        if not (np.isfinite(c).all() and np.isfinite(s).all()):
            raise ValueError(f"scan {i}: candidate centres and scores must be finite numbers")
        for t in truths[i]:
            if len(t[0]) != 3 or not float(t[1]) > 0:
                raise ValueError(f"scan {i}: a truth needs a 3D centre and a positive diameter")


def _hits(centres: np.ndarray, truth: Sequence[Truth]) -> np.ndarray:
    """Boolean (n_candidates, n_truths): candidate centre strictly within the nodule radius."""
    if len(truth) == 0 or len(centres) == 0:
        return np.zeros((len(centres), len(truth)), bool)
    t_c = np.array([np.asarray(t[0], float) for t in truth])
    t_r = np.array([float(t[1]) / 2.0 for t in truth])
    d = np.sqrt(((centres[:, None, :] - t_c[None, :, :]) ** 2).sum(axis=2))
    return np.asarray(d < t_r[None, :])


def _curve(
    scans: Sequence[Scan],
    truths: Sequence[Sequence[Truth]],
    counted: Callable[[Truth], bool],
    fp_rates: Sequence[float],
) -> FrocResult:
    # Pooled list of (score, kind, nodule id): kind 1 = TP of a counted nodule, 0 = FP.
    scores: list[float] = []
    is_tp: list[bool] = []
    nodule_ids: list[int] = []
    n_nodules = 0
    for (centres, cand_scores), truth in zip(scans, truths, strict=True):
        c = np.asarray(centres, dtype=float).reshape(-1, 3) if len(centres) else np.zeros((0, 3))
        s = np.asarray(cand_scores, dtype=float).reshape(-1)
        hits = _hits(c, truth)
        keep = [j for j, t in enumerate(truth) if counted(t)]
        for j in keep:
            rows = np.flatnonzero(hits[:, j])
            if len(rows):
                best = rows[np.argmax(s[rows])]
                scores.append(float(s[best]))
                is_tp.append(True)
                nodule_ids.append(n_nodules)
            n_nodules += 1
        for i in np.flatnonzero(~hits.any(axis=1)):
            scores.append(float(s[i]))
            is_tp.append(False)
            nodule_ids.append(-1)
    n_scans = len(scans)
    order = np.argsort(-np.array(scores), kind="stable")
    sc = np.array(scores)[order]
    tp = np.array(is_tp, bool)[order]
    cum_tp = np.cumsum(tp)
    cum_fp = np.cumsum(~tp)
    # One curve point per distinct threshold: the last index of each run of equal scores.
    if len(sc):
        last = np.flatnonzero(np.append(sc[1:] != sc[:-1], True))
        fps = np.concatenate([[0.0], cum_fp[last] / n_scans])
        sens = np.concatenate([[0.0], cum_tp[last] / max(n_nodules, 1)])
        thresholds = np.concatenate([[np.inf], sc[last]])
    else:
        fps, sens, thresholds = np.zeros(1), np.zeros(1), np.array([np.inf])
    # numpy.interp needs increasing abscissae: at equal FP counts the sensitivity climbs, so the
    # highest one belongs to that FP rate (the operating point just before the next FP).
    uniq_fps, first = np.unique(fps[::-1], return_index=True)
    uniq_sens = sens[::-1][first]
    sensitivity_at = {
        float(r): float(np.interp(r, uniq_fps, uniq_sens)) if n_nodules else float("nan")
        for r in fp_rates
    }
    values = list(sensitivity_at.values())
    return FrocResult(
        sensitivity_at=sensitivity_at,
        mean_sensitivity=float(np.mean(values)) if n_nodules else float("nan"),
        fps_per_scan=fps,
        sensitivity=sens,
        thresholds=thresholds,
        n_nodules=n_nodules,
        n_scans=n_scans,
        n_detected=int(cum_tp[-1]) if len(cum_tp) else 0,
    )


def froc(
    scans: Sequence[Scan],
    truths: Sequence[Sequence[Truth]],
    *,
    fp_rates: Sequence[float] = LUNA16_FP_RATES,
    group_by: str | Callable[[dict[str, Any]], str | None] | None = None,
) -> FrocResult:
    """LUNA16 FROC over ``scans`` (per scan: candidate centres (N, 3) in mm and scores (N,)) and
    ``truths`` (per scan: a list of (centre_mm, diameter_mm, meta)).

    ``group_by`` names a meta key (or is a function of meta returning a group name, or None to
    leave a nodule out of every group): a FROC per group is added under ``result.groups``.
    """
    _validate(scans, truths)
    if not fp_rates or any(not float(r) > 0 for r in fp_rates):
        raise ValueError("fp_rates must be positive false-positive rates per scan")
    result = _curve(scans, truths, lambda t: True, fp_rates)
    if group_by is not None:
        key: Callable[[dict[str, Any]], str | None]
        if callable(group_by):
            key = group_by
        else:
            name = group_by

            def key(meta: dict[str, Any]) -> str | None:
                value = meta.get(name)
                return None if value is None else str(value)

        names = sorted({g for truth in truths for t in truth if (g := key(t[2])) is not None})
        for g in names:

            def in_group(t: Truth, g: str = g) -> bool:
                return key(t[2]) == g

            result.groups[g] = _curve(scans, truths, in_group, fp_rates)
    return result


SIZE_BANDS_MM = ((3.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, 30.0))


def size_band(diameter_mm: float) -> str:
    """Size band label used in reports: '<3', '3-6', '6-10', '10-20', '20-30', '>=30' mm."""
    if diameter_mm < SIZE_BANDS_MM[0][0]:
        return f"<{SIZE_BANDS_MM[0][0]:g}"
    for lo, hi in SIZE_BANDS_MM:
        if lo <= diameter_mm < hi:
            return f"{lo:g}-{hi:g}"
    return f">={SIZE_BANDS_MM[-1][1]:g}"
