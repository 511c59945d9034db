"""A small multi-label classifier over sentence vectors: one ReLU layer, six sigmoid outputs.

Pure numpy, trained with Adam on mini-batches; the same data and seed give the same weights.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MLPSpec:
    """Training settings of :func:`fit_mlp`."""

    hidden: int = 256
    epochs: int = 30
    learn_rate: float = 1e-3
    l2: float = 1e-4
    batch_size: int = 64
    dropout: float = 0.2


@dataclass(frozen=True)
class MLP:
    """Weights of a fitted classifier; :meth:`predict` gives scores in [0, 1]."""

    w1: Floats
    b1: Floats
    w2: Floats
    b2: Floats

    def predict(self, features: Floats) -> Floats:
        """Scores ``(n, labels)`` for features ``(n, dim)``."""
        hidden = np.maximum(features @ self.w1 + self.b1, 0.0)
        logits = np.clip(hidden @ self.w2 + self.b2, -30.0, 30.0)
        scores: Floats = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return scores

    def arrays(self) -> dict[str, Floats]:
        """The weights by name (for ``np.savez``)."""
        return {"w1": self.w1, "b1": self.b1, "w2": self.w2, "b2": self.b2}


def _adam_step(
    params: list[Floats],
    grads: list[Floats],
    state: tuple[list[Floats], list[Floats]],
    step: int,
    spec: MLPSpec,
) -> None:
    first, second = state
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        if param.ndim == 2:
            grad = grad + spec.l2 * param
        first[i] = 0.9 * first[i] + 0.1 * grad
        second[i] = 0.999 * second[i] + 0.001 * grad * grad
        unbiased = first[i] / (1 - 0.9**step)
        scale = np.sqrt(second[i] / (1 - 0.999**step)) + 1e-8
        params[i] -= (spec.learn_rate * unbiased / scale).astype(np.float32)


def fit_mlp(features: Floats, targets: Floats, seed: int, spec: MLPSpec | None = None) -> MLP:
    """Fit on ``features (n, dim)`` and 0/1 ``targets (n, labels)``.

    Args:
        features: one row per example.
        targets: 1.0 where the example carries the label.
        seed: seeds initialisation, shuffling and dropout.
        spec: training settings (defaults: :class:`MLPSpec`).

    Returns:
        The fitted weights.
    """
    spec = spec or MLPSpec()
    rng = np.random.default_rng(seed)
    dim, labels = features.shape[1], targets.shape[1]
    params: list[Floats] = [
        (rng.standard_normal((dim, spec.hidden)) * np.sqrt(2.0 / dim)).astype(np.float32),
        np.zeros(spec.hidden, dtype=np.float32),
        (rng.standard_normal((spec.hidden, labels)) * np.sqrt(1.0 / spec.hidden)).astype(
            np.float32
        ),
        np.zeros(labels, dtype=np.float32),
    ]
    state = ([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])
    step = 0
    for _ in range(spec.epochs):
        order = rng.permutation(len(features))
        for start in range(0, len(order), spec.batch_size):
            rows = order[start : start + spec.batch_size]
            x, y = features[rows], targets[rows]
            pre = x @ params[0] + params[1]
            keep = (rng.random(pre.shape) >= spec.dropout) / (1.0 - spec.dropout)
            act = np.maximum(pre, 0.0) * keep
            out = 1.0 / (1.0 + np.exp(-np.clip(act @ params[2] + params[3], -30.0, 30.0)))
            d_out = ((out - y) / len(rows)).astype(np.float32)
            d_act = (d_out @ params[2].T) * keep * (pre > 0)
            grads = [x.T @ d_act, d_act.sum(axis=0), act.T @ d_out, d_out.sum(axis=0)]
            step += 1
            _adam_step(params, [g.astype(np.float32) for g in grads], state, step, spec)
    return MLP(*params)
