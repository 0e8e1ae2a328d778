"""The training loop: ``fit`` trains one network and returns its ``History``.

The whole dataset already sits on the device as one tensor (:class:`regutils.MNISTData`), so
a batch is a slice of an on-device random permutation: no DataLoader, no per-sample
transforms, no host-device copies in the loop. Metrics are summed on the device and read
back once per epoch, which is the only synchronization point. The arguments ``fit`` shares
with :func:`regutils.sweep` are checked here (:func:`check_shared`, :func:`check_data`), the
stopping rule is :class:`regutils.EarlyStopping`, the per-epoch validation pass is
:func:`regutils.evaluation.loss_and_correct`, and the precision comes from
:mod:`regutils.hardware`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

from . import hardware
from .checks import check_bool, check_int, check_options, check_real, env_flag
from .early_stopping import EarlyStopping
from .evaluation import check_model, check_split, loss_and_correct

__all__ = [
    "History", "fit", "lr_factor", "parameter_groups", "progress_enabled", "check_shared", "check_data",
]

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = (None, "cosine")
PROGRESS_ENV = "REGUTILS_PROGRESS"


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
    early_stop_epoch, early_stop_best_epoch
        Only for ``sweep(..., stop_early=False)``: the epoch at which early stopping would
        have ended the run (None if it never fired) and the epoch whose weights it would have
        restored.
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
    early_stop_epoch: int | None = None
    early_stop_best_epoch: int | None = None
    wall_time_s: float = 0.0
    device: str = "cpu"
    config: dict = field(default_factory=dict)
    cached: bool = False

    def record(self, epoch: int, train_loss: float, train_acc: float, val_loss: float, val_acc: float) -> None:
        """Append one epoch's numbers (``epoch`` becomes ``stopped_epoch``)."""
        self.train_loss.append(train_loss)
        self.train_acc.append(train_acc)
        self.val_loss.append(val_loss)
        self.val_acc.append(val_acc)
        self.stopped_epoch = epoch

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
    ``REGUTILS_PROGRESS`` (read by :func:`regutils.checks.env_flag`: ``0/false/no/off`` turn
    bars off, unset leaves them on). The book build sets ``REGUTILS_PROGRESS=0`` so executed
    pages hold no progress widgets.
    """
    if progress is not None:
        return check_bool("progress", progress)
    return env_flag(PROGRESS_ENV, default=True)


def progress_bar(total: int, desc: str, enabled: bool):
    """A ``tqdm.auto`` bar counting epochs (disabled: a no-op bar)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, leave=True)


def check_shared(*, epochs, batch_size, optimizer, patience, min_delta, lr_schedule) -> None:
    """The arguments ``fit`` and ``sweep`` share, checked the same way for both."""
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    check_int("patience", patience, 1, allow_none=True)
    check_options("optimizer", optimizer, OPTIMIZERS)
    check_real("min_delta", min_delta, 0)
    check_options("lr_schedule", lr_schedule, LR_SCHEDULES)


def lr_factor(schedule: str | None, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate for optimizer step ``step`` (0-based).

    ``None``: 1. ``"cosine"``: ``(1 + cos(pi * step / total_steps)) / 2``, from 1 at the first
    step down towards 0 at the last planned step (planned = every epoch run; early stopping
    does not stretch the schedule).
    """
    if schedule is None:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


def check_data(data, *, input_dim: int | None = None, out_dim: int | None = None) -> None:
    """Check ``data`` before any training, naming the tensor or parameter at fault.

    Training and validation tensors must exist, be non-empty, have matching lengths and
    finite inputs; labels must be integers in ``[0, out_dim)``; inputs must have
    ``input_dim`` columns (the model's input width).
    """
    for split in ("train", "val"):
        check_split(data, split, input_dim=input_dim, out_dim=out_dim)


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
    decay_biases: bool = False,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    seed: int = 0,
    lr_schedule: str | None = None,
    precision: str | None = None,
    progress: bool | None = None,
    cache: bool = False,
) -> History:
    """Train ``model`` on ``data`` with mini-batch gradient descent; return its History.

    Each epoch visits every training row once, in the order of
    ``torch.randperm(n, generator=torch.Generator(device).manual_seed(seed))`` drawn afresh
    per epoch from that one generator; batches are consecutive slices of it (the last one
    may be smaller). The loss is the mean cross-entropy of the batch,
    ``F.cross_entropy(model(X_b), y_b)``. After each epoch the model is evaluated on the
    validation set (in float32, dropout off).

    Weight decay
    ------------
    With ``weight_decay = λ`` and ``L`` the *mean* loss over a batch:

    * ``optimizer="sgd"``: ``w ← w − lr (∇L(w) + λ w)``, gradient descent on
      ``L + (λ/2)‖w‖²`` (coupled and decoupled decay coincide for plain SGD);
    * ``optimizer="adam"``, ``decoupled=False`` (``torch.optim.Adam``): ``λ w`` is added to
      the gradient before Adam's moment estimates, so the penalty's gradient is divided by
      ``sqrt(v̂) + eps`` like the loss's;
    * ``optimizer="adamw"``, or ``"adam"`` with ``decoupled=True`` (``torch.optim.AdamW``):
      ``w ← (1 − lr λ) w − lr · m̂/(sqrt(v̂) + eps)``. torch multiplies the decay by ``lr``
      (and by the schedule), so a good ``λ`` scales roughly as ``1/lr``.

    The book's notation appendix maps ``λ`` to scikit-learn's ``alpha`` and ``C`` and checks
    each mapping numerically.

    Which parameters decay (``decay_biases``): by default only the weight matrices (every
    parameter with two or more dimensions), as Goodfellow et al. §7.1, scikit-learn and
    common practice do — a bias controls one unit, not an interaction between two, so
    leaving it free adds little variance, while decaying it can make the network underfit
    (Goodfellow et al. §7.1). ``decay_biases=True`` decays every parameter, as
    ``torch.optim.Adam(model.parameters(), weight_decay=λ)`` does.

    Parameters
    ----------
    model
        Any module mapping ``[N, features]`` to logits ``[N, classes]``; moved to
        ``data.device`` and trained in place.
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
    decay_biases
        Decay the biases too (see above).
    patience, min_delta
        Early stopping (:class:`regutils.EarlyStopping`): stop after ``patience`` epochs in a
        row whose validation loss was not below ``best − min_delta``. ``None`` trains every
        epoch.
    restore_best
        With early stopping, load the weights of the best epoch (kept in memory) at the end.
        Without early stopping the final weights are always the last epoch's.
    seed
        Seeds the batch order and, via torch's global generator, dropout masks (the CPU's
        and, on a GPU, that GPU's generator are saved and restored around the run; an Apple
        MPS generator is reseeded but not restored). Same seed, same initial weights, same
        device → same numbers.
    lr_schedule
        ``None`` (constant) or ``"cosine"`` (see :func:`regutils.training.lr_factor`, per step).
    precision
        ``"fp32"``, ``"bf16"`` (bfloat16 autocast of the forward pass and loss; weights,
        gradients and optimizer state stay float32) or ``"auto"``; ``None`` defers to
        :func:`regutils.hardware.precision` (``$REGUTILS_PRECISION``, else bf16 where the
        device does it natively). ``"fp32"`` is the exact float32 path.
    progress
        Draw a ``tqdm.auto`` bar; ``None`` defers to ``REGUTILS_PROGRESS``.
    cache
        Look the run up in the result cache (:mod:`regutils.cache`) and store it there. A hit
        loads the trained weights into ``model`` and returns the stored History
        (``cached=True``). The key covers the arguments, the model's architecture and
        *initial* weights, ``data.spec``, the device type and the training code.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Naming the parameter or tensor: a bad argument, data whose width does not match the
        model, labels outside ``[0, classes)``, NaN or infinite inputs.
    FloatingPointError
        If the training or validation loss becomes NaN or infinite; the message names the
        epoch and the configuration. The model keeps the diverged weights.
    """
    config = _fit_config(model, data, locals())
    key = None
    if cache:
        from . import cache as result_cache

        key, hit = result_cache.lookup(
            "fit", {"config": config, "init": result_cache.state_digest(model)}, data
        )
        if hit is not None:
            model.load_state_dict(hit["state_dict"])
            return History.from_dict({**hit["history"], "cached": True})
    dev = data.device
    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        history = _train(model, data, config, progress_enabled(progress))
    if key is not None:
        result_cache.save(key, {"history": history.to_dict(), "state_dict": model.state_dict()})
    return history


def _fit_config(model: nn.Module, data, args: dict) -> dict:
    """Check ``fit``'s arguments and return the JSON-able configuration of the run."""
    check_shared(**{k: args[k] for k in ("epochs", "batch_size", "optimizer", "patience", "min_delta", "lr_schedule")})
    check_real("lr", args["lr"], 0, closed="neither")
    check_real("weight_decay", args["weight_decay"], 0)
    check_int("seed", args["seed"])
    for name in ("decoupled", "decay_biases", "restore_best"):
        check_bool(name, args[name])
    check_model(model)
    described = describe_model(model)
    check_data(data, input_dim=described.get("input_dim"), out_dim=described.get("out_dim"))
    model.to(data.device)
    return {
        "model": described,
        "epochs": args["epochs"],
        "lr": float(args["lr"]),
        "batch_size": args["batch_size"],
        "optimizer": args["optimizer"],
        "weight_decay": float(args["weight_decay"]),
        "decoupled": bool(args["decoupled"]) or args["optimizer"] == "adamw",
        "decay_biases": bool(args["decay_biases"]),
        "patience": args["patience"],
        "min_delta": float(args["min_delta"]),
        "restore_best": bool(args["restore_best"]),
        "seed": args["seed"],
        "lr_schedule": args["lr_schedule"],
        "precision": hardware.precision(args["precision"], data.device),
    }


def parameter_groups(model: nn.Module, weight_decay: float, *, decay_biases: bool = False) -> list[dict]:
    """The optimizer parameter groups of :func:`~regutils.fit`'s decay policy, for any torch optimizer.

    The weight matrices (every parameter with two or more dimensions) decay with
    ``weight_decay``; the biases (and any other one-dimensional parameter) get
    ``weight_decay=0`` unless ``decay_biases``. A group with no parameters is left out.
    ``torch.optim.SGD(parameter_groups(model, 1e-4), lr=0.1)`` is the optimizer :func:`~regutils.fit`
    builds for ``optimizer="sgd"``.

    Raises
    ------
    ValueError
        If ``model`` is not a ``torch.nn.Module`` with parameters, ``weight_decay`` is not a
        finite number ``>= 0`` or ``decay_biases`` is not a bool.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weight_decay = check_real("weight_decay", weight_decay, 0, None)
    decay_biases = check_bool("decay_biases", decay_biases)
    params = list(model.parameters())
    if not params:
        raise ValueError(f"model ({type(model).__name__}) has no parameters to optimize")
    # Decay policy, stated once: weight matrices (2-D and up) decay; biases only if asked.
    decayed = [p for p in params if p.dim() >= 2 or decay_biases]
    others = [p for p in params if not (p.dim() >= 2 or decay_biases)]
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _make_optimizer(model: nn.Module, config: dict) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config["weight_decay"], decay_biases=config["decay_biases"])
    lr, wd = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        # for plain SGD, coupled and decoupled decay are the same update
        return torch.optim.SGD(groups, lr=lr, weight_decay=wd)
    if config["decoupled"]:
        return torch.optim.AdamW(groups, lr=lr, weight_decay=wd)
    return torch.optim.Adam(groups, lr=lr, weight_decay=wd)


def nonfinite_message(what: str, value: float, epoch: int, config: dict) -> str:
    shown = {k: v for k, v in config.items() if k != "model"}
    return (
        f"{what} became {value} at epoch {epoch}; training diverged "
        f"(config: {shown}). Try a smaller lr."
    )


def _weights_and_state(opt: torch.optim.Optimizer) -> list:
    """Every parameter of ``opt`` and every tensor of its state (moments, momentum buffers)."""
    tensors = [p for group in opt.param_groups for p in group["params"]]
    for state in opt.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor) and v.dim() > 0]
    return tensors


def _train_epoch(model, opt, X, y, perm, config, step, total_steps):
    """One pass over ``perm``; returns the summed loss and correct count (device tensors)."""
    dev = X.device
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.int64)
    batch_size = config["batch_size"]
    for start in range(0, len(perm), batch_size):
        idx = perm[start : start + batch_size]
        Xb, yb = X[idx], y[idx]
        if config["lr_schedule"] is not None:
            for group in opt.param_groups:
                group["lr"] = config["lr"] * lr_factor(config["lr_schedule"], step, total_steps)
        with hardware.autocast(dev, config["precision"]):
            logits = model(Xb)
            loss = F.cross_entropy(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if hardware.flush_due(dev, step):
            hardware.flush_subnormals_(_weights_and_state(opt))
        with torch.no_grad():
            loss_sum += loss.detach() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
    return loss_sum, correct, step


def _train(model: nn.Module, data, config: dict, show_progress: bool) -> History:
    dev = data.device
    n, n_val = len(data.y_train), len(data.y_val)
    opt = _make_optimizer(model, config)
    gen = torch.Generator(device=dev).manual_seed(config["seed"])
    total_steps = config["epochs"] * math.ceil(n / config["batch_size"])
    history = History(device=str(dev), config=config)
    stopper = EarlyStopping(config["patience"], config["min_delta"])
    keep_best = config["patience"] is not None and config["restore_best"]
    best_state, step = None, 0
    bar = progress_bar(config["epochs"], "fit", show_progress)
    start_time = time.perf_counter()
    try:
        for epoch in range(1, config["epochs"] + 1):
            model.train()
            perm = torch.randperm(n, generator=gen, device=dev)
            loss_sum, correct, step = _train_epoch(model, opt, data.X_train, data.y_train, perm, config, step, total_steps)
            model.eval()
            val_loss, val_correct = loss_and_correct(model, data.X_val, data.y_val)
            # the one read-back of the epoch
            tl, tc, vl, vc = torch.stack([loss_sum, correct.float(), val_loss, val_correct.float()]).tolist()
            tl, vl = tl / n, vl / n_val
            for what, value in (("training loss", tl), ("validation loss", vl)):
                if not math.isfinite(value):
                    raise FloatingPointError(nonfinite_message(what, value, epoch, config))
            history.record(epoch, tl, tc / n, vl, vc / n_val)
            if stopper.update(epoch, vl) and keep_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            history.best_epoch, history.best_val_loss = stopper.best_epoch, stopper.best_loss
            bar.set_postfix(train_loss=f"{tl:.4f}", val_loss=f"{vl:.4f}", val_acc=f"{vc / n_val:.4f}")
            bar.update(1)
            if stopper.should_stop:
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
