"""A small DeepSurv-style network (Katzman et al. 2018): an MLP trained on Cox's partial
likelihood (Breslow ties), full batch on the CPU, seeded and deterministic, with a Breslow
baseline hazard for survival curves."""

from __future__ import annotations

from typing import Self

import numpy as np
import torch
from torch import nn

from oncology.outcomes.models.base import BreslowModel, check_survival_data, check_weights


def cox_partial_nll(
    lp: torch.Tensor, time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None
) -> torch.Tensor:
    """Mean negative Cox partial log-likelihood with Breslow's handling of tied times
    (weighted: each patient counts ``weights[i]`` times in the events and the risk sets)."""
    w = np.ones(len(time)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-time, kind="stable")  # longest time first: cumulative = risk set
    t_sorted = time[order]
    # position of the last patient with the same time (so ties share the whole risk set)
    last = np.searchsorted(-t_sorted, -t_sorted, side="right") - 1
    lp_sorted = lp[torch.as_tensor(order)]
    log_w = torch.as_tensor(np.log(w[order]), dtype=lp.dtype)
    log_risk = torch.logcumsumexp(lp_sorted + log_w, dim=0)[torch.as_tensor(last)]
    ev = torch.as_tensor(event[order] * w[order], dtype=lp.dtype)
    return -torch.sum((lp_sorted - log_risk) * ev) / ev.sum()


class NeuralCoxModel(BreslowModel):
    kind = "neural"

    def __init__(
        self,
        hidden: int = 16,
        dropout: float = 0.3,
        epochs: int = 100,
        learning_rate: float = 0.01,
        weight_decay: float = 1e-2,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.seed = seed

    # Defaults: small and strongly regularised. Wider (32 units), longer (150 epochs) and less
    # regularised networks over-fitted the public cohorts (Harrell C 0.67 vs 0.71 on GBSG2,
    # 0.60 vs 0.67 on colon, 3 splits of the validation protocol).

    def _network(self, n_features: int) -> nn.Module:
        return nn.Sequential(
            nn.Linear(n_features, self.hidden),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.hidden),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden, 1, bias=False),  # a bias cancels in the partial likelihood
        )

    def fit(
        self,
        x: np.ndarray,
        time: np.ndarray,
        event: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Self:
        x, time, event = check_survival_data(x, time, event)
        w = check_weights(weights, len(time))
        # Seed a private RNG stream so training never depends on (or disturbs) global state.
        # One intra-op thread: for a network this small, thread hand-offs cost more than they
        # save (about 10x slower with two threads on a busy machine), and it is deterministic.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            net, loss = self._train(x, time, event, w)
        finally:
            torch.set_num_threads(threads)
        net.eval()
        self.net_ = net
        self.final_loss_ = float(loss.detach())
        self._fit_baseline(x, time, event, w)
        return self

    def _train(
        self, x: np.ndarray, time: np.ndarray, event: np.ndarray, w: np.ndarray
    ) -> tuple[nn.Module, torch.Tensor]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._network(x.shape[1]).double()
            opt = torch.optim.Adam(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            xt = torch.as_tensor(x, dtype=torch.float64)
            net.train()
            loss = torch.zeros(())
            for _ in range(self.epochs):
                opt.zero_grad()
                loss = cox_partial_nll(net(xt).squeeze(1), time, event, w)
                loss.backward()
                opt.step()
        return net, loss

    def risk(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.net_(torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64))
        return np.asarray(out.squeeze(1).numpy(), dtype=float)
