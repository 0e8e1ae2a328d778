"""``fit``: one straight training loop with early stopping, and the ``History`` it returns.

The whole dataset already sits on the device as one tensor (:class:`regutils.MNISTData`), so
a batch is a slice of an on-device random permutation: no DataLoader, no per-sample
transforms, no host-device copies in the loop. Metrics are summed on the device and read
back once per epoch, which is the only synchronization point.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["History", "fit", "lr_factor", "progress_enabled"]

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = (None, "cosine")
PROGRESS_ENV = "REGUTILS_PROGRESS"
EVAL_BATCH_SIZE = 4096  # rows per forward pass when evaluating: bounds memory, not results


@dataclass
class History:
    """What one training run did, epoch by epoch, as plain Python data.

    Lists are indexed by epoch (``train_loss[0]`` is epoch 1). Losses are mean cross-entropy
    per example (nats); accuracies are fractions in [0, 1]. Training loss and accuracy are
    running values over the epoch's batches, in training mode (so with dropout active);
    validation values are computed after the epoch in evaluation mode.

    Attributes
    ----------
    train_loss, train_acc, val_loss, val_acc
        One float per epoch run.
    best_epoch
        Epoch (1-based) with the lowest validation loss; with ``min_delta > 0``, the last epoch
        whose loss beat the previous best by more than ``min_delta``.
    best_val_loss
        Validation loss at ``best_epoch``.
    stopped_epoch
        Last epoch run (1-based); smaller than ``config["epochs"]`` when early stopping fired.
    stop_reason
        ``"completed"`` (ran every epoch), ``"early_stopping"`` or ``"diverged"`` (only in a
        sweep with ``on_nonfinite="stop"``).
    restored_best
        True if the final weights are those of ``best_epoch`` (early stopping with
        ``restore_best``); False if they are the last epoch's.
    wall_time_s
        Seconds the training took (a cache hit keeps the original run's time).
    device
        Where it trained, e.g. ``"cpu"`` or ``"cuda:0"``.
    config
        The arguments of the run (JSON-able).
    cached
        True if this history was read from the result cache instead of trained.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_epoch: int = 0
    stop_reason: str = "completed"
    restored_best: bool = False
    wall_time_s: float = 0.0
    device: str = "cpu"
    config: dict = field(default_factory=dict)
    cached: bool = False

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers ``1 … stopped_epoch`` (x axis for plots)."""
        return list(range(1, len(self.train_loss) + 1))

    def to_dict(self) -> dict:
        """A plain dict (lists, numbers, strings) that :meth:`from_dict` turns back into a History."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of :meth:`to_dict`. Unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"History.from_dict: unknown key(s) {sorted(unknown)}")
        return cls(**d)


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw progress bars.

    ``progress`` if it is True or False; otherwise the environment variable
    ``REGUTILS_PROGRESS``: ``0``, ``false``, ``no`` or ``off`` turn bars off, anything else (or
    unset) leaves them on. The book build sets ``REGUTILS_PROGRESS=0`` so executed pages hold
    no progress widgets.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get(PROGRESS_ENV, "").strip().lower() not in {"0", "false", "no", "off"}


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, leave=True)


# -- argument checks shared with sweep ---------------------------------------------------------


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def check_positive_int(name: str, value, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_lr(value, name: str = "lr") -> None:
    if not _is_num(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_weight_decay(value, name: str = "weight_decay") -> None:
    if not _is_num(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_common(*, epochs, batch_size, optimizer, patience, min_delta, lr_schedule) -> None:
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_positive_int("patience", patience, allow_none=True)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    if not _is_num(min_delta) or not math.isfinite(min_delta) or min_delta < 0:
        raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be None or 'cosine', got {lr_schedule!r}")


def lr_factor(schedule: str | None, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate for optimizer step ``step`` (0-based).

    ``None``: 1. ``"cosine"``: ``(1 + cos(pi * step / total_steps)) / 2``, from 1 at the first
    step down towards 0 at the last planned step (planned = every epoch run; early stopping
    does not stretch the schedule).
    """
    if schedule is None:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


def check_data(data) -> None:
    for name in ("X_train", "y_train", "X_val", "y_val"):
        if not isinstance(getattr(data, name, None), torch.Tensor):
            raise ValueError(f"data must be an MNISTData-like object with tensor {name}")
    if len(data.y_train) == 0 or len(data.y_val) == 0:
        raise ValueError("data has an empty training or validation set")


def describe_model(model: nn.Module) -> dict:
    """JSON-able description of a model's architecture, for History.config and cache keys."""
    from .models import MLP

    if isinstance(model, MLP):
        return {
            "class": "MLP",
            "input_dim": model.input_dim,
            "hidden": list(model.hidden),
            "out_dim": model.out_dim,
            "p": list(model.p),
            "input_p": model.input_p,
        }
    return {"class": type(model).__qualname__, "repr": repr(model)}


@torch.no_grad()
def _loss_and_correct(model: nn.Module, X: torch.Tensor, y: torch.Tensor):
    """Summed cross-entropy and number of correct predictions, as device tensors."""
    loss = torch.zeros((), device=X.device)
    correct = torch.zeros((), device=X.device, dtype=torch.int64)
    for start in range(0, len(y), EVAL_BATCH_SIZE):
        logits = model(X[start : start + EVAL_BATCH_SIZE])
        yb = y[start : start + EVAL_BATCH_SIZE]
        loss += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(1) == yb).sum()
    return loss, correct


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    decoupled: bool = False,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    seed: int = 0,
    lr_schedule: str | None = None,
    progress: bool | None = None,
    cache: bool = False,
) -> History:
    """Train ``model`` on ``data`` with mini-batch gradient descent; return its History.

    Each epoch visits every training row once, in the order of
    ``torch.randperm(n, generator=torch.Generator(device).manual_seed(seed))`` drawn afresh
    per epoch from that one generator; batches are consecutive slices of it (the last one
    may be smaller). The loss is the mean cross-entropy of the batch,
    ``F.cross_entropy(model(X_b), y_b)``. After each epoch the model is evaluated on the
    validation set.

    Weight decay and the L2 penalty
    -------------------------------
    Write the training objective with an L2 penalty as ``L(w) + (λ/2)‖w‖²`` where ``L`` is
    the *mean* loss over the examples (as here). Its gradient is ``∇L(w) + λ w``.
    With ``weight_decay = λ``:

    * ``optimizer="sgd"``: ``w ← w − lr (∇L(w) + λ w)``. Exactly gradient descent on
      ``L + (λ/2)‖w‖²``; coupled and decoupled decay coincide for plain SGD
      (``decoupled`` changes nothing).
    * ``optimizer="adam"``, ``decoupled=False`` (coupled, ``torch.optim.Adam``): the term
      ``λ w`` is added to the gradient *before* Adam's moment estimates, so Adam is run
      on the gradient of ``L + (λ/2)‖w‖²`` — but the adaptive step divides the penalty's
      gradient by ``sqrt(v̂) + eps`` too, so weights with a large gradient history are
      decayed less than the penalty alone would ask.
    * ``optimizer="adamw"``, or ``"adam"`` with ``decoupled=True`` (``torch.optim.AdamW``):
      ``w ← (1 − lr λ) w − lr · m̂/(sqrt(v̂) + eps)``: every weight shrinks by the same
      factor each step, independently of the gradient history. Combined with Adam this is
      *not* the gradient of any fixed L2 penalty, and a ``λ`` tuned for coupled Adam does
      not carry over (for plain SGD the two are the same update).

    The decay applies to every parameter, biases included (as ``optimizer(model.parameters(),
    weight_decay=...)`` does).

    Mapping from scikit-learn's ``alpha`` (``n`` rows, mean-reduced torch losses):

    * ``Ridge``: ``‖y − Xw‖² + alpha ‖w‖²`` (a *sum*, no ``1/n``). Divided by ``n`` this is
      ``mse_loss + (alpha/n)‖w‖²``, so ``weight_decay = 2 alpha / n``.
    * ``Lasso``: ``(1/(2n))‖y − Xw‖² + alpha ‖w‖₁``. Times 2: ``mse_loss + 2 alpha ‖w‖₁``; an
      L1 penalty has no ``weight_decay`` equivalent (add ``2 alpha ‖w‖₁`` to the loss).
    * ``ElasticNet``: ``(1/(2n))‖y − Xw‖² + alpha l1_ratio ‖w‖₁ + (alpha (1 − l1_ratio)/2)‖w‖²``.
      Times 2: ``weight_decay = 2 alpha (1 − l1_ratio)`` plus ``2 alpha l1_ratio ‖w‖₁`` in the loss.
    * ``LogisticRegression(C)``: ``C Σ ℓ_i + ½‖w‖²``, so ``weight_decay = 1 / (C n)`` with the
      mean cross-entropy.
    * ``MLPClassifier(alpha)``: adds ``(alpha / (2 n_b))‖W‖²`` to the mean loss of a batch of
      ``n_b`` rows, so ``weight_decay = alpha / batch_size`` (sklearn leaves biases out).

    scikit-learn never penalizes the intercept; here biases are decayed unless you exclude them.

    Parameters
    ----------
    model
        Any module mapping ``[N, 784]`` to logits ``[N, classes]``; moved to ``data.device``
        and trained in place.
    data
        :class:`regutils.MNISTData` (or anything with ``X_train, y_train, X_val, y_val``
        tensors on one device and a ``spec`` dict).
    epochs
        Maximum number of passes over the training rows (>= 1).
    lr
        Learning rate (> 0).
    batch_size
        Rows per step (>= 1).
    optimizer
        ``"adam"``, ``"adamw"`` or ``"sgd"`` (plain, no momentum). torch's default
        hyperparameters otherwise (Adam betas (0.9, 0.999), eps 1e-8).
    weight_decay
        ``λ`` above (>= 0).
    decoupled
        Use decoupled decay (AdamW). ``optimizer="adamw"`` is always decoupled.
    patience
        Early stopping: stop after ``patience`` consecutive epochs without a validation loss
        below ``best − min_delta``. ``None`` trains every epoch.
    min_delta
        Smallest decrease of the validation loss that counts as an improvement (>= 0).
    restore_best
        With early stopping, load the weights of the best epoch (kept in memory) at the end.
        Without early stopping the final weights are always the last epoch's.
    seed
        Seeds the batch order and, via torch's global generator (saved and restored around
        the run), dropout masks. Same seed, same initial weights, same device → same numbers
        on the CPU.
    lr_schedule
        ``None`` (constant) or ``"cosine"`` (see :func:`regutils.train.lr_factor`, applied per step).
    progress
        Draw a ``tqdm.auto`` bar (one per call, epochs as steps, losses as postfix). ``None``
        defers to the ``REGUTILS_PROGRESS`` environment variable (see
        :func:`regutils.train.progress_enabled`).
    cache
        Look the run up in the on-disk result cache (:mod:`regutils.cache`) and store it there.
        A hit loads the trained weights into ``model`` and returns the stored History
        (``cached=True``) without training. The key covers the arguments, the model's
        architecture and *initial* weights, ``data.spec``, the device type and the source
        of ``regutils``. ``REGUTILS_CACHE=0`` turns caching off everywhere.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Naming the parameter: ``epochs``, ``batch_size`` or ``patience`` below 1, ``lr <= 0``,
        negative ``weight_decay`` or ``min_delta``, an unknown ``optimizer`` or ``lr_schedule``.
    FloatingPointError
        If the training or validation loss becomes NaN or infinite; the message names the
        epoch and the configuration. The model keeps the diverged weights.
    """
    check_common(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        patience=patience,
        min_delta=min_delta,
        lr_schedule=lr_schedule,
    )
    check_lr(lr)
    check_weight_decay(weight_decay)
    check_data(data)
    if not _is_int(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    decoupled = bool(decoupled) or optimizer == "adamw"
    dev = data.device
    model.to(dev)
    config = {
        "model": describe_model(model),
        "epochs": epochs,
        "lr": float(lr),
        "batch_size": batch_size,
        "optimizer": optimizer,
        "weight_decay": float(weight_decay),
        "decoupled": decoupled,
        "patience": patience,
        "min_delta": float(min_delta),
        "restore_best": bool(restore_best),
        "seed": seed,
        "lr_schedule": lr_schedule,
    }

    key = None
    if cache:
        from . import cache as result_cache

        key, hit = result_cache.lookup(
            "fit", {"config": config, "init": result_cache.state_digest(model)}, data
        )
        if hit is not None:
            model.load_state_dict(hit["state_dict"])
            return History.from_dict({**hit["history"], "cached": True})

    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        history = _train(model, data, config, progress_enabled(progress))
    if key is not None:
        result_cache.save(key, {"history": history.to_dict(), "state_dict": model.state_dict()})
    return history


def _make_optimizer(model: nn.Module, config: dict) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        # for plain SGD, coupled and decoupled decay are the same update
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if config["decoupled"]:
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)


def nonfinite_message(what: str, value: float, epoch: int, config: dict) -> str:
    shown = {k: v for k, v in config.items() if k != "model"}
    return (
        f"{what} became {value} at epoch {epoch}; training diverged "
        f"(config: {shown}). Try a smaller lr."
    )


def _train(model: nn.Module, data, config: dict, show_progress: bool) -> History:
    dev = data.device
    X, y = data.X_train, data.y_train
    n = len(y)
    batch_size, epochs = config["batch_size"], config["epochs"]
    patience, min_delta = config["patience"], config["min_delta"]
    opt = _make_optimizer(model, config)
    gen = torch.Generator(device=dev).manual_seed(config["seed"])
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    history = History(device=str(dev), config=config)
    best_state = None
    since_best = 0
    step = 0
    bar = _progress_bar(epochs, "fit", show_progress)
    start_time = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            perm = torch.randperm(n, generator=gen, device=dev)
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                Xb, yb = X[idx], y[idx]
                if config["lr_schedule"] is not None:
                    for group in opt.param_groups:
                        group["lr"] = config["lr"] * lr_factor(config["lr_schedule"], step, total_steps)
                logits = model(Xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                with torch.no_grad():
                    loss_sum += loss.detach() * len(idx)
                    correct += (logits.argmax(1) == yb).sum()
            model.eval()
            val_loss, val_correct = _loss_and_correct(model, data.X_val, data.y_val)
            # the one read-back of the epoch
            tl, tc, vl, vc = torch.stack(
                [loss_sum, correct.to(loss_sum.dtype), val_loss, val_correct.to(val_loss.dtype)]
            ).tolist()
            tl, vl = tl / n, vl / len(data.y_val)
            for what, value in (("training loss", tl), ("validation loss", vl)):
                if not math.isfinite(value):
                    raise FloatingPointError(nonfinite_message(what, value, epoch, config))
            history.train_loss.append(tl)
            history.train_acc.append(tc / n)
            history.val_loss.append(vl)
            history.val_acc.append(vc / len(data.y_val))
            history.stopped_epoch = epoch
            if vl < history.best_val_loss - min_delta or history.best_epoch == 0:
                history.best_val_loss, history.best_epoch = vl, epoch
                since_best = 0
                if patience is not None and config["restore_best"]:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
            bar.set_postfix(train_loss=f"{tl:.4f}", val_loss=f"{vl:.4f}", val_acc=f"{vc / len(data.y_val):.4f}")
            bar.update(1)
            if patience is not None and since_best >= patience:
                history.stop_reason = "early_stopping"
                break
    finally:
        bar.close()
    model.eval()
    if best_state is not None:
        model.load_state_dict(best_state)
    history.restored_best = best_state is not None
    history.wall_time_s = time.perf_counter() - start_time
    return history
