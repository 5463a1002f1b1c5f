"""Treatment comparison for one patient: per-option survival, RMST and fixed-time survival.

Associational evidence, not a randomised comparison. Default method: regression adjustment
(g-computation) with one pooled survival model whose inputs are the covariates, the option
indicators and every option x covariate product (``method="interaction"``), so each option
gets its own covariate effects while the cohort's other patients inform them; the patient's
curve under option a is the model's prediction with the option set to a. Confounding is handled
by conditioning on the covariates that drove the choice (no unmeasured confounding assumed).
With the Cox model the products are penalised by treatment component (:func:`component_penalty`:
combinations borrow their effect modification from the single modalities they contain).
Alternatives: ``method="per_option"`` (one model per option, fitted on its own patients) and
``weighting=True`` (stabilised inverse probability of treatment weights from a multinomial
logistic propensity model, truncated at the 1st/99th percentiles, as case weights).

Tested against the simulated cohort's known truth (tests/outcomes/test_compare.py); numbers in
docs/validation.md, the choice of penalties in docs/outcomes-models.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from oncology.outcomes.features import FeatureEncoder, FeatureSpec
from oncology.outcomes.models import SurvivalModel, make_model


class ComparisonError(ValueError):
    """The cohort cannot support a comparison (an option with too few patients, ...)."""


def fit_propensity(x: np.ndarray, labels: np.ndarray, n_classes: int, l2: float = 1e-2):
    """Multinomial logistic regression by L-BFGS; returns a function X -> probabilities."""
    n, d = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    onehot = np.eye(n_classes)[labels]

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(d + 1, n_classes)
        logits = design @ w
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        penalty = 0.5 * l2 * float(np.sum(w[1:] ** 2))
        value = -float(np.sum(onehot * log_p)) / n + penalty
        grad = design.T @ (np.exp(log_p) - onehot) / n
        grad[1:] += l2 * w[1:]
        return value, grad.ravel()

    res = minimize(loss, np.zeros((d + 1) * n_classes), jac=True, method="L-BFGS-B")
    weights = res.x.reshape(d + 1, n_classes)

    def predict(x_new: np.ndarray) -> np.ndarray:
        logits = np.hstack([np.ones((len(x_new), 1)), x_new]) @ weights
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    return predict


# Ridge weights of the pooled Cox interaction model (lifelines' scale: standardised columns).
MAIN_PENALTY = 0.01  # covariates and option indicators
COMPONENT_PENALTY = 0.02  # covariate x treatment-component effect modification
DEVIATION_PENALTY = 1.0  # covariate x option effect modification beyond its components


def option_components(options: Sequence[str]) -> list[list[str]]:
    """The treatment components of each option: its label split at '+' ("surgery+chemotherapy"
    is surgery and chemotherapy; a label without '+' is its own component)."""
    return [sorted({part.strip() for part in str(o).split("+") if part.strip()}) for o in options]


def component_penalty(
    options: Sequence[str], n_covariates: int, component: float = COMPONENT_PENALTY
) -> tuple[np.ndarray, np.ndarray]:
    """Basis and ridge weights for the pooled Cox model's option x covariate products.

    In ``TreatmentComparison._design`` the products of option j carry beta_j, the difference
    between option j's covariate effects and the reference option's. They are refitted as
    beta_j = sum over components c of (c in j - c in reference) gamma_c + delta_j: every
    component (surgery, radiotherapy, chemotherapy) modifies the covariate effects the same way
    in every option that contains it (gamma, lightly penalised), and an option's own deviation
    from the sum of its parts (delta) is shrunk hard. Combinations then borrow strength from
    the single modalities instead of each option estimating its own effect modification from
    its own patients. Covariates and option indicators keep the usual light penalty.
    ``component`` is gamma's ridge weight (default COMPONENT_PENALTY; a comparison can choose
    it by cross-validation, :func:`choose_component_penalty`).
    Returns (basis, penalizer) for :class:`~oncology.outcomes.models.cox.CoxModel`.
    """
    comps = option_components(options)
    names = sorted({c for parts in comps for c in parts})
    ref = set(comps[0])
    k, d = len(options), n_covariates
    membership = np.array(
        [[float(c in parts) - float(c in ref) for c in names] for parts in map(set, comps[1:])]
    ).reshape(k - 1, len(names))
    # A component in every option (surgery in "surgery" vs "surgery+radiotherapy") never
    # differs from the reference: its column is all zero, its gamma has no data, and the fit
    # does not converge. It carries no effect modification to share, so it is left out.
    varies = np.any(membership != 0, axis=0)
    names = [name for name, keep in zip(names, varies, strict=True) if keep]
    membership = membership[:, varies]
    per_option = np.hstack([membership, np.eye(k - 1)])  # (k-1, components + k-1)
    n_main = d + k - 1
    n_prod = per_option.shape[1] * d
    basis = np.zeros((n_main + (k - 1) * d, n_main + n_prod))
    basis[:n_main, :n_main] = np.eye(n_main)
    basis[n_main:, n_main:] = np.kron(per_option, np.eye(d))  # option-major, covariate-minor
    penalizer = np.concatenate(
        [
            np.full(n_main, MAIN_PENALTY),
            np.full(len(names) * d, component),
            np.full((k - 1) * d, DEVIATION_PENALTY),
        ]
    )
    return basis, penalizer


COMPONENT_GRID = (0.02, 0.05, 0.2)


def held_out_partial_likelihood(time: np.ndarray, event: np.ndarray, lp: np.ndarray) -> float:
    """Cox partial log-likelihood (Breslow ties) of held-out rows under their predicted
    log-hazards ``lp``, risk sets formed within those rows; per event."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    lp = np.asarray(lp, dtype=float)
    order = np.argsort(-t, kind="stable")
    # log of the sum of exp(lp) over rows with time >= t_i (cumulated from the longest time)
    shift = float(lp.max())
    tail = np.log(np.cumsum(np.exp(lp[order] - shift))) + shift
    sorted_t = t[order]
    # rows tied with t_i are in its risk set: take the cumulated sum at the last tied row
    last = len(t) - 1 - np.searchsorted(sorted_t[::-1], t, side="left")
    log_risk = tail[last]
    if not e.any():
        raise ComparisonError("a held-out fold without events")
    return float(np.sum(lp[e] - log_risk[e]) / e.sum())


def choose_component_penalty(
    frame: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    treatment: str,
    time_col: str = "time",
    event_col: str = "event",
    grid: Sequence[float] = COMPONENT_GRID,
    folds: int = 3,
    seed: int = 0,
) -> float:
    """The ridge weight of the interaction model's treatment-component effect modification
    with the best mean held-out partial likelihood over ``folds`` folds (stratified by option
    and event), ties to the smaller weight. Uses the cohort's outcomes only (no truth)."""
    rng = np.random.default_rng(seed)
    strata = frame[treatment].astype(str) + "|" + frame[event_col].astype(str)
    fold_of = np.empty(len(frame), dtype=int)
    for value in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata.to_numpy() == value))
        fold_of[members] = np.arange(len(members)) % folds
    scores = []
    for weight in grid:
        total = 0.0
        for k in range(folds):
            train, test = frame[fold_of != k], frame[fold_of == k]
            tc = TreatmentComparison(
                specs,
                treatment,
                min_patients=1,  # the cohort's own size check has been made; folds are smaller
                model_params={"component_penalty": weight},
                seed=seed,
            ).fit(train.reset_index(drop=True), time_col, event_col)
            labels = test[treatment].astype(str)
            if not set(labels) <= set(tc.options_):
                raise ComparisonError("an option is missing from a training fold")
            codes = labels.map({o: i for i, o in enumerate(tc.options_)}).to_numpy()
            lp = tc.pooled_.risk(tc._design(tc.encoder_.transform(test), codes))
            total += held_out_partial_likelihood(
                test[time_col].to_numpy(dtype=float), test[event_col].to_numpy(dtype=int), lp
            )
        scores.append(total / folds)
    return float(grid[int(np.argmax(scores))])


@dataclass
class OptionEstimate:
    option: str
    patients: int
    times: np.ndarray
    survival: np.ndarray  # survival at ``times``
    rmst: float
    survival_at: dict[float, float] = field(default_factory=dict)


class TreatmentComparison:
    """Fit once on a cohort, then compare every option for any patient."""

    def __init__(
        self,
        specs: Sequence[FeatureSpec],
        treatment: str,
        model_kind: str = "cox",
        min_patients: int = 30,
        weighting: bool = False,
        seed: int = 0,
        model_params: dict[str, Any] | None = None,
        method: str = "interaction",
    ):
        if method not in ("interaction", "per_option"):
            raise ComparisonError("method must be 'interaction' or 'per_option'")
        self.method = method
        self.model_params = dict(model_params or {})
        self.specs = list(specs)
        self.treatment = treatment
        self.model_kind = model_kind
        self.min_patients = min_patients
        self.weighting = weighting
        self.seed = seed

    def fit(self, frame: pd.DataFrame, time_col: str = "time", event_col: str = "event"):
        self._data = (frame, time_col, event_col)
        if self.treatment not in frame.columns:
            raise ComparisonError(f"column {self.treatment!r} is not in the cohort")
        labels = frame[self.treatment].astype(str)
        counts = labels.value_counts()
        small = sorted(counts[counts < self.min_patients].index)
        if small:
            raise ComparisonError(
                f"options with fewer than {self.min_patients} patients: {', '.join(small)}"
            )
        self.options_ = sorted(counts.index)
        self.encoder_ = FeatureEncoder(self.specs).fit(frame)
        x = self.encoder_.transform(frame)
        codes = labels.map({o: i for i, o in enumerate(self.options_)}).to_numpy()
        time = frame[time_col].to_numpy(dtype=float)
        event = frame[event_col].to_numpy(dtype=int)
        if self.weighting:
            propensity = fit_propensity(x, codes, len(self.options_))(x)
            p_own = propensity[np.arange(len(codes)), codes]
            marginal = np.bincount(codes, minlength=len(self.options_)) / len(codes)
            w = marginal[codes] / p_own
            lo, hi = np.percentile(w, [1, 99])
            self.weights_ = np.clip(w, lo, hi)
        else:
            self.weights_ = np.ones(len(codes))
        self.models_: dict[str, SurvivalModel] = {}
        self.counts_ = {o: int((codes == i).sum()) for i, o in enumerate(self.options_)}
        if self.method == "interaction":
            design = self._design(x, codes)
            params = dict(self.model_params)
            component = params.pop("component_penalty", COMPONENT_PENALTY)
            if component == "cv":
                # chosen once on this cohort; stored so bootstrap refits reuse it (no CV each)
                component = choose_component_penalty(
                    frame, self.specs, self.treatment, time_col, event_col, seed=self.seed
                )
                self.model_params["component_penalty"] = component
            if self.model_kind == "cox" and "penalizer" not in params and "basis" not in params:
                params["basis"], params["penalizer"] = component_penalty(
                    self.options_, x.shape[1], float(component)
                )
            model = make_model(self.model_kind, seed=self.seed, **params)
            self.pooled_ = model.fit(design, time, event, weights=self.weights_)
            return self
        own = {k: v for k, v in self.model_params.items() if k != "component_penalty"}
        for i, option in enumerate(self.options_):
            mask = codes == i
            model = make_model(self.model_kind, seed=self.seed, **own)
            self.models_[option] = model.fit(
                x[mask], time[mask], event[mask], weights=self.weights_[mask]
            )
        return self

    def _design(self, x: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """[covariates, option indicators (first option = reference), option x covariates]."""
        k = len(self.options_)
        dummies = np.eye(k)[codes][:, 1:]
        products = [dummies[:, j : j + 1] * x for j in range(k - 1)]
        return np.hstack([x, dummies, *products])

    def _predict(self, x: np.ndarray, option: str, times: np.ndarray) -> np.ndarray:
        if option not in self.counts_:
            raise ComparisonError(f"unknown option {option!r}")
        if self.method == "interaction":
            codes = np.full(len(x), self.options_.index(option))
            return self.pooled_.predict_survival(self._design(x, codes), times)
        return self.models_[option].predict_survival(x, times)

    def compare(
        self,
        patient: pd.DataFrame,
        horizon: float,
        at: Sequence[float] = (),
        steps: int = 200,
    ) -> list[OptionEstimate]:
        """Per-option curve on [0, horizon], RMST up to ``horizon`` and S at each of ``at``."""
        if len(patient) != 1:
            raise ComparisonError("compare one patient at a time")
        x = self.encoder_.transform(patient)
        grid = np.linspace(0.0, float(horizon), steps + 1)
        out = []
        for option in self.options_:
            surv = self._predict(x, option, grid)[0]
            points = self._predict(x, option, np.asarray(at, dtype=float))[0] if at else []
            out.append(
                OptionEstimate(
                    option=option,
                    patients=self.counts_[option],
                    times=grid,
                    survival=surv,
                    rmst=float(np.trapezoid(surv, grid)),
                    survival_at={float(t): float(s) for t, s in zip(at, points, strict=True)},
                )
            )
        return out

    def survival_matrix(self, frame: pd.DataFrame, option: str, times: np.ndarray) -> np.ndarray:
        """Predicted S(t) under ``option`` for every row of ``frame`` (patients x times)."""
        return self._predict(self.encoder_.transform(frame), option, np.asarray(times, dtype=float))


@dataclass
class Bands:
    """Percentile bootstrap intervals for one patient's comparison."""

    times: np.ndarray
    level: float
    replicates: int
    lower: dict[str, np.ndarray]  # per option, survival at ``times``
    upper: dict[str, np.ndarray]
    rmst: dict[str, tuple[float, float]]
    rmst_difference: dict[tuple[str, str], tuple[float, float]]  # (a, b): RMST_a - RMST_b


def bootstrap_survival(
    comparison: TreatmentComparison,
    patients: pd.DataFrame,
    times: np.ndarray,
    replicates: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Survival under every option for every patient, refitted on ``replicates`` bootstrap
    resamples of the cohort (within each option); shape (replicates, options, patients, times).
    """
    frame, time_col, event_col = comparison._data
    rng = np.random.default_rng(seed)
    grid = np.asarray(times, dtype=float)
    labels = frame[comparison.treatment].astype(str).to_numpy()
    groups = [np.flatnonzero(labels == o) for o in comparison.options_]
    out = np.empty((replicates, len(comparison.options_), len(patients), len(grid)))
    for r in range(replicates):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        refit = TreatmentComparison(
            comparison.specs,
            comparison.treatment,
            comparison.model_kind,
            comparison.min_patients,
            comparison.weighting,
            comparison.seed,
            comparison.model_params,
            comparison.method,
        ).fit(frame.iloc[idx].reset_index(drop=True), time_col, event_col)
        x = refit.encoder_.transform(patients)
        for k, option in enumerate(comparison.options_):
            out[r, k] = refit._predict(x, option, grid)
    return out


def bootstrap_bands(
    comparison: TreatmentComparison,
    patient: pd.DataFrame,
    horizon: float,
    replicates: int = 100,
    level: float = 0.95,
    steps: int = 60,
    seed: int = 0,
) -> Bands:
    """Refit the comparison on ``replicates`` bootstrap resamples of its cohort (resampled
    within each option, so every option keeps its size) and take percentile intervals for each
    option's curve, its RMST and every pairwise RMST difference."""
    if replicates < 10:
        raise ComparisonError("at least 10 bootstrap replicates are needed")
    if not 0.5 < level < 1:
        raise ComparisonError("the level must lie between 0.5 and 1")
    grid = np.linspace(0.0, float(horizon), steps + 1)
    draws_all = bootstrap_survival(comparison, patient, grid, replicates, seed)
    curves = {o: list(draws_all[:, k, 0, :]) for k, o in enumerate(comparison.options_)}
    alpha = (1.0 - level) / 2.0
    lower, upper, rmst = {}, {}, {}
    rmst_draws = {}
    for option, draws in curves.items():
        arr = np.vstack(draws)
        lower[option] = np.quantile(arr, alpha, axis=0)
        upper[option] = np.quantile(arr, 1.0 - alpha, axis=0)
        rmst_draws[option] = np.trapezoid(arr, grid, axis=1)
        lo, hi = np.quantile(rmst_draws[option], [alpha, 1.0 - alpha])
        rmst[option] = (float(lo), float(hi))
    differences = {}
    for i, a in enumerate(comparison.options_):
        for b in comparison.options_[i + 1 :]:
            diff = rmst_draws[a] - rmst_draws[b]
            lo, hi = np.quantile(diff, [alpha, 1.0 - alpha])
            differences[(a, b)] = (float(lo), float(hi))
    return Bands(grid, level, replicates, lower, upper, rmst, differences)


def weighted_km_rmst(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray, horizon: float
) -> float:
    """Restricted mean of a weighted Kaplan–Meier curve up to ``horizon``."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    w = np.asarray(weights, dtype=float)
    surv, last, area = 1.0, 0.0, 0.0
    for u in np.unique(t[e & (t <= horizon)]):
        area += surv * (u - last)
        at_risk = w[t >= u].sum()
        surv *= 1.0 - w[e & (t == u)].sum() / at_risk
        last = u
    return float(area + surv * (horizon - last))


def iptw_rmst_difference(
    frame: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    treatment: str,
    treated: str,
    control: str,
    horizon: float,
    replicates: int = 200,
    level: float = 0.95,
    seed: int = 0,
    time_col: str = "time",
    event_col: str = "event",
) -> tuple[float, float, float]:
    """Reference estimate of RMST(treated) - RMST(control) from stabilised-IPTW Kaplan–Meier
    curves, with a percentile bootstrap interval (propensity refitted in every replicate)."""
    rows = frame[frame[treatment].astype(str).isin([treated, control])].reset_index(drop=True)
    labels = (rows[treatment].astype(str) == treated).to_numpy().astype(int)

    def estimate(idx: np.ndarray) -> float:
        sub = rows.iloc[idx]
        lab = labels[idx]
        x = FeatureEncoder(specs).fit_transform(sub)
        p = fit_propensity(x, lab, 2)(x)[np.arange(len(lab)), lab]
        share = np.bincount(lab, minlength=2)[lab] / len(lab)
        w = share / p
        t = sub[time_col].to_numpy(dtype=float)
        e = sub[event_col].to_numpy(dtype=int)
        arms = [lab == 1, lab == 0]
        treated_rmst, control_rmst = (weighted_km_rmst(t[m], e[m], w[m], horizon) for m in arms)
        return treated_rmst - control_rmst

    rng = np.random.default_rng(seed)
    point = estimate(np.arange(len(rows)))
    groups = [np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)]
    draws = [
        estimate(np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups]))
        for _ in range(replicates)
    ]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [alpha, 1.0 - alpha])
    return point, float(lo), float(hi)
