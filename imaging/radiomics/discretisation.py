"""Intensity discretisation (IBSI reference manual, section 2.7).

Grey levels are integers 1..Ng. Fixed bin number:
``X_d = floor(Ng (X - X_min) / (X_max - X_min)) + 1`` with ``X_d = Ng`` at ``X = X_max``.
Fixed bin size: ``X_d = floor((X - X_min) / w_b) + 1`` where ``X_min`` is the lower bound of the
re-segmentation range when there is one, else the ROI minimum.
"""

from __future__ import annotations

import numpy as np

from imaging.radiomics.settings import Discretisation


def discretise(
    values: np.ndarray, method: Discretisation, lower_bound: float | None = None
) -> tuple[np.ndarray, int]:
    """Grey levels (int64, >= 1) for ``values`` and the number of grey levels Ng.

    ``values`` are the intensities inside the ROI (any shape); ``none`` keeps integer
    intensities as they are and requires them to be >= 1 (the IBSI digital phantom).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no intensities to discretise")
    if method.method == "none":
        levels = np.rint(values).astype(np.int64)
        if levels.min() < 1:
            raise ValueError("without discretisation grey levels must be integers >= 1")
        return levels, int(levels.max())
    if method.method == "fbn":
        n_bins = int(method.n_bins or 0)
        lo, hi = float(values.min()), float(values.max())
        if hi == lo:
            return np.ones(values.shape, dtype=np.int64), n_bins
        levels = np.floor(n_bins * (values - lo) / (hi - lo)).astype(np.int64) + 1
        return np.minimum(levels, n_bins), n_bins
    width = float(method.bin_width or 0.0)
    lo = float(values.min()) if lower_bound is None else float(lower_bound)
    levels = np.floor((values - lo) / width).astype(np.int64) + 1
    levels = np.maximum(levels, 1)
    return levels, int(levels.max())


def discretise_volume(
    array: np.ndarray, mask: np.ndarray, method: Discretisation, lower_bound: float | None = None
) -> tuple[np.ndarray, int]:
    """A grey-level volume shaped like ``array``: levels inside ``mask``, 0 outside."""
    levels = np.zeros(array.shape, dtype=np.int64)
    inside, n_levels = discretise(array[mask], method, lower_bound)
    levels[mask] = inside
    return levels, n_levels
