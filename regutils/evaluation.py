"""Evaluation: the one loop that scores logits in batches, and what is built on it.

:func:`loss_and_correct` is that loop; ``fit`` and ``sweep`` call it on the validation set
after every epoch (for one network or a stack of them), and :func:`regutils.predict` and
:func:`regutils.evaluate` use the same batching for a trained classifier's loss, accuracy, F1 scores
and confusion matrix on one split. :func:`check_split` and :func:`check_model` are the
checks every one of them makes before a network sees the data (wrong width, labels outside
the model's classes, NaN inputs), so each bad input is named the same way everywhere.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_int, check_options

__all__ = ["evaluate", "predict", "loss_and_correct", "check_split", "check_model", "EVAL_BATCH_SIZE"]

SPLITS = ("train", "val", "test")
EVAL_BATCH_SIZE = 4096  # rows per forward pass when evaluating: bounds memory, not results


def check_split(data, split: str, *, input_dim: int | None = None, out_dim: int | None = None) -> None:
    """Check one split of ``data`` before a network sees it, naming the tensor at fault.

    ``data.X_<split>`` and ``data.y_<split>`` must be tensors, non-empty, one row per label,
    with finite inputs and integer labels; with ``input_dim`` the inputs must have that many
    columns (the model's input width), with ``out_dim`` the labels must lie in
    ``[0, out_dim)``. :func:`regutils.fit` and :func:`regutils.sweep` check the training and
    validation splits with it, :func:`regutils.evaluate` the split it scores.
    """
    X, y = getattr(data, f"X_{split}", None), getattr(data, f"y_{split}", None)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError(f"data must be an MNISTData-like object with tensors X_{split} and y_{split}, got {type(data).__name__}")
    if len(y) == 0:
        raise ValueError(f"data.y_{split} is empty")
    if X.dim() != 2 or len(X) != len(y):
        raise ValueError(f"data.X_{split} must be [rows, features] with one row per label; got shape {tuple(X.shape)} for {len(y)} labels")
    if input_dim is not None and X.shape[1] != input_dim:
        raise ValueError(f"data.X_{split} has {X.shape[1]} features per row but the model expects input_dim={input_dim}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"data.X_{split} holds NaN or infinite values (first bad row: {int((~torch.isfinite(X)).any(1).nonzero()[0])})")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"data.y_{split} must hold integer class labels, got dtype {y.dtype}")
    if out_dim is not None and (int(y.min()) < 0 or int(y.max()) >= out_dim):
        raise ValueError(f"data.y_{split} holds labels in [{int(y.min())}, {int(y.max())}] but the model has out_dim={out_dim} outputs (labels must be in [0, {out_dim}))")


def check_model(model) -> None:
    """``model`` must be a torch module (what :func:`regutils.fit`, :func:`regutils.predict`
    and :func:`regutils.evaluate` run)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


@torch.no_grad()
def loss_and_correct(forward, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = EVAL_BATCH_SIZE):
    """Summed cross-entropy and number of correct predictions, as device tensors (no sync).

    ``forward`` maps a batch ``[B, in]`` to logits ``[B, classes]`` (one network) or
    ``[K, B, classes]`` (a stack of K networks); the results then have shape ``[]`` or
    ``[K]``. Rows go through ``batch_size`` at a time; the sums do not depend on it beyond
    float summation order.
    """
    loss = correct = None
    for start in range(0, len(y), batch_size):
        logits = forward(X[start : start + batch_size])
        yb = y[start : start + batch_size].expand(*logits.shape[:-1])
        part = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none")
        part = part.view(yb.shape).sum(-1)
        hits = (logits.argmax(-1) == yb).sum(-1)
        loss = part if loss is None else loss + part
        correct = hits if correct is None else correct + hits
    return loss, correct


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, *, batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Logits of ``model`` for every row of ``X``, in evaluation mode, without gradients.

    Rows go through in batches of ``batch_size`` (memory only; the result does not depend on
    it). The model's training/evaluation mode is restored afterwards.
    """
    check_model(model)
    if not isinstance(X, torch.Tensor) or X.dim() != 2:
        shown = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a 2-D torch tensor [rows, features], got {shown}")
    input_dim = getattr(model, "input_dim", None)
    if input_dim is not None and X.shape[1] != input_dim:
        raise ValueError(f"X has {X.shape[1]} features per row but the model expects input_dim={input_dim}")
    return _logits(model, X, check_int("batch_size", batch_size, 1))


@torch.no_grad()
def _logits(model: nn.Module, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    """:func:`predict` on arguments checked already."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, data, split: str = "test", *, batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Score ``model`` on one split of ``data``.

    Parameters
    ----------
    model
        A classifier returning logits; it is run in evaluation mode (dropout off) on the
        data's device, and its mode is restored afterwards.
    data
        :class:`regutils.MNISTData`.
    split
        ``"test"`` (default), ``"val"`` or ``"train"``.
    batch_size
        Rows per forward pass (memory only).

    Returns
    -------
    dict
        ``loss``: mean cross-entropy in nats; ``accuracy`` and ``error = 1 - accuracy``;
        ``f1_weighted`` and ``f1_macro``: :func:`sklearn.metrics.f1_score` with
        ``average="weighted"`` (per-class F1 weighted by class frequency) and ``"macro"``
        (unweighted mean over the classes present in ``y`` or the predictions); ``confusion``: the :func:`sklearn.metrics.confusion_matrix`
        as a numpy array, rows = true class, columns = predicted class, one row and column per
        output of the model; ``n``: number of rows scored.

    Raises
    ------
    ValueError
        If ``split`` is not one of ``train``, ``val``, ``test``, ``model`` is not a torch module,
        ``batch_size`` is not an integer >= 1, or the split fails
        :func:`regutils.evaluation.check_split` against the model's ``input_dim`` and
        ``out_dim`` (where it has them, as :class:`regutils.MLP` does).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    check_options("split", split, SPLITS)
    check_model(model)
    check_split(data, split, input_dim=getattr(model, "input_dim", None), out_dim=getattr(model, "out_dim", None))
    batch_size = check_int("batch_size", batch_size, 1)
    X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
    logits = _logits(model.to(X.device), X, batch_size)
    loss = F.cross_entropy(logits, y).item()
    y_true = y.cpu().numpy()
    y_hat = logits.argmax(1).cpu().numpy()
    labels = np.arange(logits.shape[1])
    accuracy = float(accuracy_score(y_true, y_hat))
    return {
        "loss": loss,
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "f1_weighted": float(f1_score(y_true, y_hat, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_hat, average="macro", zero_division=0)),
        "confusion": confusion_matrix(y_true, y_hat, labels=labels),
        "n": int(len(y_true)),
    }
