"""Bootstrap bands that are cheap at prediction time: refit once, evaluate many times.

:func:`oncology.outcomes.compare.bootstrap_bands` refits the whole comparison on every bootstrap
resample for every patient (seconds per replicate). :class:`BootstrapEnsemble` does the same
refits ONCE, at training time, and keeps the fitted replicates; a patient's bands then only
evaluate the stored models (milliseconds per replicate). With the same seed and number of
replicates it draws exactly the resamples that ``bootstrap_bands`` draws (resampling within each
option), so the bands are the same numbers (tests/outcomes/test_ensemble.py checks this).

Storage: every replicate keeps its feature encoder and its survival model(s); the resampled
training frame and lifelines' fitter object (with its copy of the data) are dropped, so a
replicate of a Cox comparison is a coefficient vector plus a Breslow baseline.

At prediction time the patient's values are parsed once and each replicate's encoder state
(imputation value, mean, standard deviation, category levels) is applied to them directly,
which gives the same matrix as ``encoder.transform`` without a pandas pass per replicate.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from oncology.outcomes.classifiers import ClassifierError, OptionResponseModel
from oncology.outcomes.compare import Bands, ComparisonError, TreatmentComparison
from oncology.outcomes.features import FeatureEncoder


@contextmanager
def single_thread() -> Iterator[None]:
    """One torch intra-op thread while evaluating many small networks (when torch is loaded):
    for a network this small, thread hand-offs cost more than they save, badly so on a busy
    machine."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def encode_row(encoder: FeatureEncoder, parsed: dict[str, object]) -> np.ndarray:
    """The encoder's row for values parsed by :func:`parse_row` (same as ``transform``)."""
    out: list[float] = []
    for spec in encoder.specs:
        state = encoder._fitted[spec.name]
        value = parsed[spec.name]
        if spec.kind == "categorical":
            level = state.fill if value is None else value
            out += [1.0 if level == lvl else 0.0 for lvl in state.levels[1:]]
            continue
        missing = value is None
        number = float(state.fill or 0.0) if missing else float(value)  # type: ignore[arg-type]
        if spec.kind == "numeric":
            number = (number - state.mean) / state.std
        out.append(number)
        if spec.missing == "indicator":
            out.append(1.0 if missing else 0.0)
    return np.asarray(out, dtype=float)


def parse_row(encoder: FeatureEncoder, patient: pd.DataFrame) -> dict[str, object]:
    """One patient's values as the encoder reads them (validated, log1p applied, categorical
    values as strings, ``None`` for missing); raises FeatureError as ``transform`` does."""
    if len(patient) != 1:
        raise ComparisonError("one patient at a time")
    encoder._check_columns(patient)
    parsed: dict[str, object] = {}
    for spec in encoder.specs:
        col = patient[spec.name]
        encoder._check_missing(spec, col)
        if spec.kind == "categorical":
            value = col.iloc[0]
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                parsed[spec.name] = "missing" if spec.missing == "category" else None
            else:
                parsed[spec.name] = str(value)
        else:
            number = float(encoder._numeric(spec, col)[0])
            parsed[spec.name] = None if np.isnan(number) else number
    return parsed


class BootstrapEnsemble:
    """``replicates`` refits of a fitted comparison on bootstrap resamples of its cohort."""

    def __init__(self, comparison: TreatmentComparison, replicates: int = 100, seed: int = 0):
        if replicates < 10:
            raise ComparisonError("at least 10 bootstrap replicates are needed")
        if not hasattr(comparison, "options_"):
            raise ComparisonError("fit the comparison first")
        self.comparison = comparison
        self.replicates = replicates
        self.seed = seed

    def fit(self) -> BootstrapEnsemble:
        comp = self.comparison
        frame, time_col, event_col = comp._data
        rng = np.random.default_rng(self.seed)  # the draws of compare.bootstrap_survival
        labels = frame[comp.treatment].astype(str).to_numpy()
        groups = [np.flatnonzero(labels == o) for o in comp.options_]
        members: list[TreatmentComparison] = []
        for _ in range(self.replicates):
            idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
            refit = TreatmentComparison(
                comp.specs,
                comp.treatment,
                comp.model_kind,
                comp.min_patients,
                comp.weighting,
                comp.seed,
                comp.model_params,
                comp.method,
            ).fit(frame.iloc[idx].reset_index(drop=True), time_col, event_col)
            _slim(refit)
            members.append(refit)
        self.members_ = members
        return self

    def survival(self, patient: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        """Survival under every option from every replicate: (replicates, options, times)."""
        if not hasattr(self, "members_"):
            raise ComparisonError("the bootstrap ensemble is not fitted")
        comp = self.comparison
        grid = np.asarray(times, dtype=float)
        parsed = parse_row(comp.encoder_, patient)
        k = len(comp.options_)
        out = np.empty((len(self.members_), k, len(grid)))
        codes = np.arange(k)
        with single_thread():
            self._evaluate(parsed, grid, codes, out)
        return out

    def _evaluate(
        self, parsed: dict[str, object], grid: np.ndarray, codes: np.ndarray, out: np.ndarray
    ) -> None:
        comp = self.comparison
        k = len(codes)
        for r, member in enumerate(self.members_):
            x = encode_row(member.encoder_, parsed)[None, :]
            if member.method == "interaction":
                design = member._design(np.repeat(x, k, axis=0), codes)
                out[r] = member.pooled_.predict_survival(design, grid)
            else:
                for j, option in enumerate(comp.options_):
                    out[r, j] = member.models_[option].predict_survival(x, grid)[0]

    def bands(
        self, patient: pd.DataFrame, horizon: float, level: float = 0.95, steps: int = 60
    ) -> Bands:
        """Percentile bands as :func:`~oncology.outcomes.compare.bootstrap_bands` computes
        them (each option's curve, its RMST and every pairwise RMST difference)."""
        if not 0.5 < level < 1:
            raise ComparisonError("the level must lie between 0.5 and 1")
        comp = self.comparison
        grid = np.linspace(0.0, float(horizon), steps + 1)
        draws = self.survival(patient, grid)
        alpha = (1.0 - level) / 2.0
        lower, upper, rmst, rmst_draws = {}, {}, {}, {}
        for k, option in enumerate(comp.options_):
            arr = draws[:, k, :]
            lower[option] = np.quantile(arr, alpha, axis=0)
            upper[option] = np.quantile(arr, 1.0 - alpha, axis=0)
            rmst_draws[option] = np.trapezoid(arr, grid, axis=1)
            lo, hi = np.quantile(rmst_draws[option], [alpha, 1.0 - alpha])
            rmst[option] = (float(lo), float(hi))
        differences = {}
        for i, a in enumerate(comp.options_):
            for b in comp.options_[i + 1 :]:
                lo, hi = np.quantile(rmst_draws[a] - rmst_draws[b], [alpha, 1.0 - alpha])
                differences[(a, b)] = (float(lo), float(hi))
        return Bands(grid, level, len(self.members_), lower, upper, rmst, differences)


def _slim(refit: TreatmentComparison) -> None:
    """Drop what prediction does not need: the resampled frame and lifelines' fitter."""
    del refit._data
    models = [refit.pooled_] if refit.method == "interaction" else list(refit.models_.values())
    for model in models:
        if hasattr(model, "fitter_"):
            del model.fitter_


def resample_indices(labels: np.ndarray, options: list[str], replicates: int, seed: int):
    """The bootstrap resamples (within each option) that :class:`BootstrapEnsemble` and
    ``compare.bootstrap_survival`` draw for the same seed, in the same order."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == o) for o in options]
    for _ in range(replicates):
        yield np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])


class ResponseEnsemble:
    """``replicates`` refits of a fitted ``classifiers.OptionResponseModel`` on the bootstrap
    resamples of the survival ensemble (same seed: the same patients in each replicate), so a
    patient's response interval comes from the same resampling as the survival bands."""

    def __init__(self, model: OptionResponseModel, replicates: int = 100, seed: int = 0):
        if replicates < 10:
            raise ComparisonError("at least 10 bootstrap replicates are needed")
        self.model = model
        self.replicates = replicates
        self.seed = seed

    def fit(self, frame: pd.DataFrame, outcome_col: str, options: list[str]) -> ResponseEnsemble:
        """``options``: the survival comparison's options (its resampling groups); only rows
        with a known outcome take part in each refit."""
        m = self.model
        labels = frame[m.treatment].astype(str).to_numpy()
        known = frame[outcome_col].notna().to_numpy()
        members = []
        for idx in resample_indices(labels, options, self.replicates, self.seed):
            rows = frame.iloc[idx[known[idx]]].reset_index(drop=True)
            refit = OptionResponseModel(
                m.specs,
                m.treatment,
                m.kind,
                m.calibrate,
                min_patients=1,
                seed=m.seed,
                params=m.params,
            )
            try:
                members.append(refit.fit(rows, outcome_col))
            except ClassifierError:  # a resample with one outcome only: skipped
                continue
        if len(members) < 10:
            raise ComparisonError("fewer than 10 response refits succeeded")
        self.members_ = members
        return self

    def draws(self, patient: pd.DataFrame) -> dict[str, np.ndarray]:
        """P(response) under each option from every replicate. The patient's values are parsed
        once and each replicate's encoder state applied directly (as the survival ensemble
        does), so a replicate costs one small matrix product, not a pandas pass."""
        parsed = parse_row(self.model.encoder_, patient)
        out: dict[str, list[float]] = {o: [] for o in self.model.options_}
        for member in self.members_:
            x = encode_row(member.encoder_, parsed)[None, :]
            k = len(member.options_)
            design = member._design(np.repeat(x, k, axis=0), np.arange(k))
            for option, p in zip(member.options_, member.model_.predict_proba(design), strict=True):
                if option in out:
                    out[option].append(float(p))
        return {o: np.asarray(v) for o, v in out.items()}

    def interval(
        self, patient: pd.DataFrame, level: float = 0.95
    ) -> dict[str, tuple[float, float]]:
        alpha = (1.0 - level) / 2.0
        return {
            o: (float(np.quantile(v, alpha)), float(np.quantile(v, 1.0 - alpha)))
            for o, v in self.draws(patient).items()
            if len(v)
        }


def summarise_draws(
    draws: np.ndarray,
    grid: np.ndarray,
    options: list[str],
    at: dict[str, float],
    point_at: dict[str, dict[str, float]],
    level: float = 0.95,
) -> dict[str, object]:
    """Percentile intervals from bootstrap survival draws of shape (replicates, options,
    len(grid) + len(at)): the first ``len(grid)`` columns are the curve on ``grid``, the rest
    the survival at each ``at`` time (label -> time, in order). Returns each option's curve band,
    RMST interval, every unordered RMST difference (a before b in ``options`` order), the
    survival interval at each labelled time per option, and for every ORDERED pair (a, b) the
    interval of S_a - S_b at each labelled time and its point estimate (``estimate``: label ->
    difference, from ``point_at``: option -> label -> survival)."""
    if not 0.5 < level < 1:
        raise ComparisonError("the level must lie between 0.5 and 1")
    alpha = (1.0 - level) / 2.0
    q = [alpha, 1.0 - alpha]
    steps = len(grid)
    labels = list(at)
    curves, points = draws[:, :, :steps], draws[:, :, steps:]
    lower, upper, rmst, rmst_draws, survival_at = {}, {}, {}, {}, {}
    for k, option in enumerate(options):
        arr = curves[:, k, :]
        lower[option] = np.quantile(arr, alpha, axis=0)
        upper[option] = np.quantile(arr, 1.0 - alpha, axis=0)
        rmst_draws[option] = np.trapezoid(arr, grid, axis=1)
        lo, hi = np.quantile(rmst_draws[option], q)
        rmst[option] = (float(lo), float(hi))
        survival_at[option] = {
            label: tuple(float(v) for v in np.quantile(points[:, k, j], q))
            for j, label in enumerate(labels)
        }
    rmst_difference = {}
    for i, a in enumerate(options):
        for b in options[i + 1 :]:
            lo, hi = np.quantile(rmst_draws[a] - rmst_draws[b], q)
            rmst_difference[(a, b)] = (float(lo), float(hi))
    survival_difference = []
    for i, a in enumerate(options):
        for j, b in enumerate(options):
            if i == j:
                continue
            row: dict[str, object] = {"option": a, "versus": b}
            for t, label in enumerate(labels):
                lo, hi = np.quantile(points[:, i, t] - points[:, j, t], q)
                row[label] = (float(lo), float(hi))
            row["estimate"] = {lbl: point_at[a][lbl] - point_at[b][lbl] for lbl in labels}
            survival_difference.append(row)
    return {
        "bands": Bands(grid, level, len(draws), lower, upper, rmst, rmst_difference),
        "survival_at": survival_at,
        "survival_difference": survival_difference,
    }
