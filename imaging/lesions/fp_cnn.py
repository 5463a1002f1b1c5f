"""False-positive reduction for nodule candidates: a small 3D CNN over candidate patches
(:mod:`imaging.lesions.patches`: 32^3 voxels at 1 mm, HU windowed to [0, 1]) giving the
probability that a candidate is a nodule rather than a vessel, a wall or noise.

Training is on CPU, seeded and deterministic (``torch.use_deterministic_algorithms``, a fixed
generator for initialisation, shuffling and augmentation, one intra-op thread while training):
the same patches, labels and seed give the same weights byte for byte on one machine.
Augmentation is by the 48 symmetries of the cube (axis permutations and flips): a nodule is a
nodule in any orientation on an isotropic grid.

The stored form (:func:`FpNetwork.to_bytes`) is ``torch.save`` of a dict holding only tensors,
numbers and strings, read back with ``weights_only=True``: loading it runs no code.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.metrics import brier_score_loss, roc_auc_score
from torch import nn

from imaging.lesions.patches import PATCH_SIZE, PatchGeometry

ARCHITECTURE = "cnn3d-v1"  # see _Net
MIN_PER_CLASS = 20  # fewer confirmed or rejected findings than this: no model
DEFAULT_THRESHOLD = 0.5


class FpModelError(ValueError):
    """The patches or labels cannot train or feed the model; the message says why."""


class _Net(nn.Module):
    """A strided first convolution (1 mm in, 2 mm out: a learned downsampling), two
    convolution-pooling stages, one more convolution, then the global mean and maximum of each
    channel into one logit. About 30 thousand weights."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv3d(1, w, 3, stride=2, padding=1),
            nn.BatchNorm3d(w),
            nn.ReLU(),
            nn.Conv3d(w, w, 3, padding=1),
            nn.BatchNorm3d(w),
            nn.ReLU(),
            nn.MaxPool3d(2),
            nn.Conv3d(w, 2 * w, 3, padding=1),
            nn.BatchNorm3d(2 * w),
            nn.ReLU(),
            nn.MaxPool3d(2),
            nn.Conv3d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(8 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3, 4)), h.amax(dim=(2, 3, 4))], dim=1)
        return self.head(pooled).squeeze(1)


# the 48 symmetries of the cube: a permutation of the three spatial axes and a flip per axis
_SYMMETRIES = [
    (perm, flips)
    for perm in itertools.permutations((0, 1, 2))
    for flips in itertools.product((False, True), repeat=3)
]


def _augment(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random cube symmetry per sample (batch shape (n, 1, s, s, s))."""
    picks = torch.randint(len(_SYMMETRIES), (batch.shape[0],), generator=gen).tolist()
    out = []
    for sample, k in zip(batch, picks, strict=True):
        perm, flips = _SYMMETRIES[k]
        x = sample.permute(0, *(p + 1 for p in perm))
        dims = [i + 1 for i, f in enumerate(flips) if f]
        out.append(torch.flip(x, dims) if dims else x)
    return torch.stack(out)


def _check_patches(patches: np.ndarray, size: int) -> np.ndarray:
    array = np.asarray(patches, dtype=np.float32)
    if array.ndim != 4 or array.shape[1:] != (size, size, size):
        raise FpModelError(
            f"patches must have shape (n, {size}, {size}, {size}); got {tuple(array.shape)}"
        )
    if not np.isfinite(array).all():
        raise FpModelError("patches hold values that are not finite numbers")
    return array


@dataclass
class FpNetwork:
    """A trained network and what it needs to be used and described."""

    state: dict[str, torch.Tensor]
    geometry: PatchGeometry = field(default_factory=PatchGeometry)
    width: int = 8
    seed: int = 0
    epochs: int = 0
    threshold: float = DEFAULT_THRESHOLD
    architecture: str = ARCHITECTURE
    _net: _Net | None = field(default=None, repr=False, compare=False)

    def net(self) -> _Net:
        if self._net is None:
            net = _Net(self.width)
            net.load_state_dict(self.state)
            net.eval()
            self._net = net
        return self._net

    def predict(self, patches: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """The nodule probability of each patch ((n, s, s, s) windowed), float64 in [0, 1]."""
        array = _check_patches(patches, self.geometry.size)
        if not len(array):
            return np.zeros(0)
        net = self.net()
        out = []
        with torch.no_grad():
            for start in range(0, len(array), batch_size):
                x = torch.from_numpy(array[start : start + batch_size]).unsqueeze(1)
                out.append(torch.sigmoid(net(x)).double().numpy())
        return np.concatenate(out)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(
            {
                "architecture": self.architecture,
                "width": self.width,
                "seed": self.seed,
                "epochs": self.epochs,
                "threshold": self.threshold,
                "geometry": self.geometry.as_dict(),
                "state": self.state,
            },
            buffer,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FpNetwork:
        try:
            saved = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error
            raise FpModelError(f"the stored network cannot be read ({type(exc).__name__})") from exc
        if not isinstance(saved, dict) or saved.get("architecture") != ARCHITECTURE:
            raise FpModelError("the stored network is not a cnn3d-v1 false-positive model")
        g = saved["geometry"]
        return cls(
            state=saved["state"],
            geometry=PatchGeometry(
                size=int(g["size"]),
                spacing_mm=float(g["spacing_mm"]),
                hu_low=float(g["hu_low"]),
                hu_high=float(g["hu_high"]),
            ),
            width=int(saved["width"]),
            seed=int(saved["seed"]),
            epochs=int(saved["epochs"]),
            threshold=float(saved["threshold"]),
        )


def _check_labels(labels: Sequence[int] | np.ndarray, n: int, minimum: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise FpModelError(f"there must be one label per patch ({n}); got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise FpModelError("labels must be 1 (nodule, confirmed) or 0 (false positive, rejected)")
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    if positives < minimum or negatives < minimum:
        raise FpModelError(
            f"training needs at least {minimum} nodules and {minimum} false positives; "
            f"got {positives} and {negatives}"
        )
    return y.astype(np.float32)


def train_fp_network(
    patches: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    epochs: int = 12,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    width: int = 8,
    geometry: PatchGeometry | None = None,
    min_per_class: int = MIN_PER_CLASS,
) -> FpNetwork:
    """Fit the network (Adam, binary cross-entropy weighted to balance the classes, a random
    cube symmetry per sample and epoch). Deterministic for a seed."""
    geometry = geometry or PatchGeometry()
    x_all = _check_patches(patches, geometry.size)
    y_all = _check_labels(labels, len(x_all), min_per_class)
    if epochs < 1 or batch_size < 1:
        raise FpModelError("epochs and batch size must be at least 1")
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)  # a fixed reduction order: same weights on every run
    torch.use_deterministic_algorithms(True)
    try:
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # initialisation uses the global generator
        net = _Net(width)
        optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
        positive = float(y_all.sum())
        pos_weight = torch.tensor((len(y_all) - positive) / positive)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        x = torch.from_numpy(x_all).unsqueeze(1)
        y = torch.from_numpy(y_all)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), batch_size):
                idx = order[start : start + batch_size]
                optimiser.zero_grad()
                loss = loss_fn(net(_augment(x[idx], gen)), y[idx])
                loss.backward()
                optimiser.step()
        net.eval()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return FpNetwork(state=state, geometry=geometry, width=width, seed=seed, epochs=epochs)


def _stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        test[rng.permutation(idx)[: max(1, round(len(idx) * test_fraction))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def classification_report(
    y_true: np.ndarray, p: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """AUC, Brier score, sensitivity and specificity at ``threshold``, and the fraction of false
    positives removed while keeping 95 % of the nodules."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p, dtype=float)
    called = p >= threshold
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    keep95 = float(np.quantile(p[y == 1], 0.05, method="lower")) if positives else float("nan")
    return {
        "n": int(len(y)),
        "nodules": positives,
        "false_positives": negatives,
        "auc": round(float(roc_auc_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "threshold": threshold,
        "sensitivity": round(float((called & (y == 1)).sum() / positives), 4),
        "specificity": round(float((~called & (y == 0)).sum() / negatives), 4),
        # cut-off keeping >= 95 % of nodules and the share of false positives below it
        "cutoff_at_95_sensitivity": round(keep95, 4),
        "false_positives_removed_at_95_sensitivity": round(
            float((p[y == 0] < keep95).sum() / negatives), 4
        ),
    }


def validate_fp_network(
    patches: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    min_per_class: int = MIN_PER_CLASS,
    **train_kwargs: Any,
) -> dict[str, Any]:
    """Held-out validation: train on a stratified (1 - ``test_fraction``) share, report on
    the rest (:func:`classification_report`)."""
    x = _check_patches(patches, (train_kwargs.get("geometry") or PatchGeometry()).size)
    y = _check_labels(labels, len(x), min_per_class).astype(int)
    train, test = _stratified_split(y, test_fraction, seed)
    net = train_fp_network(
        x[train], y[train], seed=seed, min_per_class=max(1, min_per_class // 2), **train_kwargs
    )
    report = classification_report(y[test], net.predict(x[test]), net.threshold)
    return {
        "protocol": f"one stratified {round((1 - test_fraction) * 100)}/"
        f"{round(test_fraction * 100)} split (seed {seed})",
        "train": int(len(train)),
        **report,
    }


__all__ = [
    "ARCHITECTURE",
    "MIN_PER_CLASS",
    "PATCH_SIZE",
    "FpModelError",
    "FpNetwork",
    "classification_report",
    "train_fp_network",
    "validate_fp_network",
]
