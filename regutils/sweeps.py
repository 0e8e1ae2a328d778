"""``sweep``: train many configurations of one MLP architecture at once.

The K networks live in a :class:`regutils.stacked.Stack` (stacked weights, one batched matrix
multiply per layer); this module resolves the configurations, sizes the chunks to the memory
budget, runs the epochs, applies :class:`regutils.EarlyStopping` to each network and caches
the result. On a GPU this keeps the device busy where one small network alone would leave it
idle; on a CPU it is about as fast as training the networks one after another.

What each model sees (model ``i`` with configuration seed ``s``):

* initial weights: those of ``MLP(..., seed=s)``;
* batch order: exactly :func:`regutils.fit`'s with ``seed=s`` (its own
  ``torch.Generator`` seeded with ``s``, one ``randperm`` per epoch). Models that share a seed
  therefore see the same batches — a paired comparison of their hyperparameters;
* dropout masks: from a generator of its own, seeded from ``s`` and drawn only for its own
  dropout layers.

So a model's trajectory depends on its own configuration only: changing another model's
hyperparameters leaves it bit-identical. With dropout off, a one-configuration sweep
reproduces ``fit`` with the same seed on the CPU (same float operations up to summation
order; on a GPU the stacked Adam step rounds differently, so the two agree up to
floating-point rounding). With
dropout on the masks come from a different random stream than ``fit``'s, so the two agree in
distribution, not number for number.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import hardware
from .checks import check_bool, check_int, check_options, check_real
from .early_stopping import EarlyStopping
from .evaluation import EVAL_BATCH_SIZE, loss_and_correct
from .models import MLP, check_p
from .stacked import Stack
from .training import History, check_data, check_shared, lr_factor, nonfinite_message, progress_bar, progress_enabled

__all__ = ["SweepResult", "sweep"]

CONFIG_KEYS = ("lr", "p", "input_p", "weight_decay", "decoupled", "seed", "label")


@dataclass
class SweepResult:
    """The outcome of :func:`regutils.sweep`: one History and one set of trained weights per configuration.

    Attributes
    ----------
    configs
        The configurations with every default filled in, in the order given.
    histories
        One :class:`~regutils.History` per configuration.
    hidden, input_dim, out_dim
        The shared architecture.
    states
        One ``MLP`` state dict per configuration (the weights ``model(i)`` loads).
    chunks
        Sizes of the groups that trained together (more than one when memory ran short).
    wall_time_s
        Seconds for the whole sweep.
    cached
        True if read from the result cache.
    early_states
        With ``patience`` and ``stop_early=False``: per configuration, the weights early
        stopping would have restored (see :func:`regutils.sweep`); otherwise None.
    """

    configs: list[dict]
    histories: list[History]
    hidden: tuple[int, ...]
    input_dim: int
    out_dim: int
    states: list[dict] = field(repr=False)
    chunks: list[int]
    wall_time_s: float
    cached: bool = False
    early_states: list[dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.configs)

    def model(self, i: int, device=None, *, early_stopped: bool = False) -> MLP:
        """Configuration ``i``'s trained network as an ordinary :class:`~regutils.MLP` (eval mode).

        Weights are the best epoch's when early stopping restored them, else the last epoch's.
        ``early_stopped=True`` (only after ``sweep(..., stop_early=False)``) gives the weights
        early stopping would have restored instead. ``device`` defaults to where the weights are.
        """
        check_int("i", i, 0, len(self.configs) - 1)
        check_bool("early_stopped", early_stopped)
        cfg = self.configs[i]
        net = MLP(self.input_dim, hidden=self.hidden, out_dim=self.out_dim, p=cfg["p"], input_p=cfg["input_p"])
        if early_stopped and self.early_states is None:
            raise ValueError("early_stopped=True needs a sweep run with patience and stop_early=False")
        state = self.early_states[i] if early_stopped else self.states[i]
        net.load_state_dict(state)
        target = device if device is not None else next(iter(state.values())).device
        return net.to(target).eval()

    def summary(self):
        """A pandas DataFrame: one row per configuration with its settings and outcome."""
        import pandas as pd

        rows = []
        for cfg, h in zip(self.configs, self.histories):
            row = {k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg.items()}
            i = h.best_epoch - 1
            row.update(
                best_epoch=h.best_epoch,
                stopped_epoch=h.stopped_epoch,
                best_val_loss=h.best_val_loss,
                best_val_acc=h.val_acc[i] if i >= 0 else math.nan,
                final_val_loss=h.val_loss[-1] if h.val_loss else math.nan,
                stop_reason=h.stop_reason,
            )
            rows.append(row)
        return pd.DataFrame(rows)


def _resolve(configs, defaults: dict, n_hidden: int) -> list[dict]:
    if isinstance(configs, dict) or not isinstance(configs, Sequence) or len(configs) == 0:
        raise ValueError("configs must be a non-empty list of dicts")
    out = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, dict):
            raise ValueError(f"configs[{i}] must be a dict, got {type(cfg).__name__}")
        unknown = set(cfg) - set(CONFIG_KEYS)
        if unknown:
            raise ValueError(
                f"configs[{i}] has unknown key(s) {sorted(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
            )
        c = {**defaults, **cfg}
        check_real(f"configs[{i}]['lr']", c["lr"], 0, closed="neither")
        check_real(f"configs[{i}]['weight_decay']", c["weight_decay"], 0)
        check_int(f"configs[{i}]['seed']", c["seed"])
        check_bool(f"configs[{i}]['decoupled']", c["decoupled"])
        p = c["p"]
        if isinstance(p, Sequence) and not isinstance(p, str):
            if len(p) != n_hidden:
                raise ValueError(f"configs[{i}]['p'] needs one probability per hidden layer ({n_hidden})")
            ps = [check_p(q, f"configs[{i}]['p']") for q in p]
        else:
            ps = [check_p(p, f"configs[{i}]['p']")] * n_hidden
        c["p"] = ps
        c["input_p"] = check_p(c["input_p"], f"configs[{i}]['input_p']")
        c["lr"], c["weight_decay"] = float(c["lr"]), float(c["weight_decay"])
        c["decoupled"] = bool(c["decoupled"])
        out.append(c)
    return out


def _per_model_bytes(widths: Sequence[int], batch_size: int, n_eval: int, distinct_batches: bool) -> int:
    """Rough float32 bytes one model adds to a chunk (parameters and their optimizer state,
    best-weight copy, activations of a training step and of an evaluation pass)."""
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    per_row = sum(widths[1:])
    params = 6 * n_params  # value, grad, two moments, best copy, temporaries
    train = 6 * batch_size * per_row + (batch_size * widths[0] if distinct_batches else 0)
    evaluate = 3 * min(n_eval, EVAL_BATCH_SIZE) * per_row
    return 4 * (params + train + evaluate)


def _default_budget(dev: torch.device) -> int:
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free * 0.6)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        avail = 8 * 2**30
    return int(avail * 0.4)


def sweep(
    configs: Sequence[dict],
    data,
    *,
    epochs: int,
    batch_size: int,
    hidden: Sequence[int] = (400, 400, 400, 400),
    out_dim: int = 10,
    lr: float = 1e-3,
    p: float | Sequence[float] = 0.0,
    input_p: float = 0.0,
    weight_decay: float = 0.0,
    decoupled: bool = False,
    decay_biases: bool = False,
    seed: int = 0,
    optimizer: str = "adam",
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    stop_early: bool = True,
    lr_schedule: str | None = None,
    precision: str | None = None,
    on_nonfinite: str = "raise",
    max_memory_bytes: int | None = None,
    progress: bool | None = None,
    cache: bool = False,
) -> SweepResult:
    """Train one MLP per configuration, all at once, and return every History and model.

    Each configuration is a dict with any of the keys ``lr``, ``p`` (dropout after every
    hidden layer, or a list with one value per hidden layer), ``input_p``, ``weight_decay``,
    ``decoupled``, ``seed`` and ``label`` (a free-form name kept with the results); missing
    keys take the keyword arguments of the same name. Everything else (architecture, epochs,
    batch size, optimizer, early stopping) is shared.

    Model ``i`` follows the rules of :func:`regutils.fit` with its own settings — the
    same update formulas (``weight_decay`` as described there), the same batch order for the
    same seed, the same early stopping — but all models step together: the loss minimized
    is the *sum* of the models' mean batch losses, whose gradient with respect to model
    ``i``'s weights is exactly that of model ``i``'s own loss. The optimizers (Adam, AdamW,
    SGD, torch's default betas and eps) are written here vectorized over the models, with a
    learning rate and a weight decay per model. A model whose early stopping fires is
    frozen (its best weights restored if ``restore_best``) and dropped from the batched
    computation, so later epochs get cheaper.

    If the models need more memory than ``max_memory_bytes`` (default: 60 % of free GPU
    memory, or 40 % of free RAM on a CPU), they are trained in consecutive chunks; results
    do not depend on the chunking beyond float summation order.

    Parameters
    ----------
    configs
        A non-empty list of dicts (see above).
    data
        :class:`regutils.MNISTData`.
    epochs, batch_size, optimizer, patience, min_delta, restore_best, lr_schedule
        As in :func:`regutils.fit`, shared by every model.
    stop_early
        With ``patience``: False lets every model run all epochs while early stopping only
        watches — the weights it would have restored (the best epoch's at the epoch it would
        have stopped, or the best epoch's overall if it never fires) are kept in
        ``SweepResult.early_states`` and the epochs in ``History.early_stop_epoch`` /
        ``early_stop_best_epoch``. Training is deterministic, so those weights are exactly
        what a run that stopped with ``restore_best=True`` would have returned (they are the
        best epoch's whatever ``restore_best`` says); one run gives both arms of a paired
        early-stopping comparison. ``states`` then hold the last epoch's weights.
    hidden
        Hidden layer widths shared by every model (the input size comes from ``data``).
    out_dim
        Number of classes (outputs), as in :class:`regutils.MLP`.
    lr, p, input_p, weight_decay, decoupled, seed
        Defaults for the configuration keys of the same names.
    decay_biases, precision
        As in :func:`regutils.fit`, shared by every model (by default the biases do not
        decay; bf16 autocast where the device does bfloat16 natively).
    on_nonfinite
        ``"raise"``: a NaN/inf loss in any model raises ``FloatingPointError`` naming the
        configuration and epoch (as ``fit`` does). ``"stop"``: that model is frozen with
        ``stop_reason="diverged"`` and the others go on; it keeps the weights of its best
        epoch when early stopping tracks them (``patience`` given, and an epoch with a finite
        validation loss before it diverged), otherwise its last, non-finite weights. With
        ``stop_early=False`` its ``early_states`` entry is the same weights.
    max_memory_bytes
        Memory budget that decides the chunk size.
    progress
        One ``tqdm.auto`` bar per chunk; ``None`` defers to ``REGUTILS_PROGRESS``.
    cache
        Use the on-disk result cache (:mod:`regutils.cache`), keyed by the resolved
        configurations, the shared settings, ``data.spec`` and a digest of the data
        tensors, the device type and the training code (its syntax, not its docstrings).

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Naming the parameter, for the same bad values ``fit`` and ``MLP`` reject, an unknown
        configuration key, or an empty ``configs``/``hidden``.
    FloatingPointError
        See ``on_nonfinite``.
    """
    resolved, shared = _check_sweep(configs, data, locals())
    key = None
    if cache:
        from . import cache as result_cache

        key, hit = result_cache.lookup("sweep", {"configs": resolved, "shared": shared}, data)
        if hit is not None:
            return _from_cache(hit, resolved, shared, data.device)
    widths = (shared["input_dim"], *shared["hidden"], shared["out_dim"])
    chunk = _chunk_size(resolved, widths, shared, data, max_memory_bytes)
    show = progress_enabled(progress)
    start = time.perf_counter()
    histories, states, early, chunks = [], [], [], []
    for first in range(0, len(resolved), chunk):
        part = resolved[first : first + chunk]
        h, s, e = _train_chunk(part, first, widths, data, shared, show)
        histories += h
        states += s
        early += e
        chunks.append(len(part))
    early = early if _observing(shared) else None
    result = SweepResult(
        configs=resolved,
        histories=histories,
        hidden=tuple(shared["hidden"]),
        input_dim=shared["input_dim"],
        out_dim=shared["out_dim"],
        states=states,
        chunks=chunks,
        wall_time_s=time.perf_counter() - start,
        early_states=early,
    )
    if key is not None:
        entry = {"histories": [h.to_dict() for h in histories], "states": states, "chunks": chunks, "early_states": early}
        result_cache.save(key, {**entry, "wall_time_s": result.wall_time_s})
    return result


def _check_sweep(configs, data, args: dict) -> tuple[list[dict], dict]:
    """Check ``sweep``'s arguments; return the resolved configurations and the shared settings."""
    check_shared(**{k: args[k] for k in ("epochs", "batch_size", "optimizer", "patience", "min_delta", "lr_schedule")})
    hidden = args["hidden"]
    if isinstance(hidden, (int, str)) or not isinstance(hidden, Sequence) or len(hidden) == 0:
        raise ValueError(f"hidden must be a non-empty sequence of widths, got {hidden!r}")
    for w in hidden:
        check_int("each width in hidden", w, 1)
    check_int("out_dim", args["out_dim"], 1)
    check_options("on_nonfinite", args["on_nonfinite"], ("raise", "stop"))
    check_int("max_memory_bytes", args["max_memory_bytes"], 1, allow_none=True)
    for name in ("decay_biases", "restore_best", "stop_early"):
        check_bool(name, args[name])
    input_dim = getattr(getattr(data, "X_train", None), "shape", (0, 0))[-1]
    check_data(data, input_dim=input_dim, out_dim=args["out_dim"])
    defaults = {k: args[k] for k in ("lr", "p", "input_p", "weight_decay", "decoupled", "seed")}
    resolved = _resolve(configs, {**defaults, "label": None}, len(hidden))
    if args["optimizer"] == "adamw":
        for c in resolved:
            c["decoupled"] = True
    shared = {
        "hidden": list(hidden),
        "input_dim": input_dim,
        "out_dim": args["out_dim"],
        **{k: args[k] for k in ("epochs", "batch_size", "optimizer", "patience", "lr_schedule", "on_nonfinite")},
        "min_delta": float(args["min_delta"]),
        "restore_best": bool(args["restore_best"]),
        "stop_early": bool(args["stop_early"]),
        "decay_biases": bool(args["decay_biases"]),
        "precision": hardware.precision(args["precision"], data.device),
    }
    return resolved, shared


def _from_cache(hit: dict, resolved: list[dict], shared: dict, dev) -> SweepResult:
    return SweepResult(
        configs=resolved,
        histories=[History.from_dict({**h, "cached": True}) for h in hit["histories"]],
        hidden=tuple(shared["hidden"]),
        input_dim=shared["input_dim"],
        out_dim=shared["out_dim"],
        states=[{k: v.to(dev) for k, v in s.items()} for s in hit["states"]],
        chunks=list(hit["chunks"]),
        wall_time_s=float(hit["wall_time_s"]),
        cached=True,
        early_states=None if hit.get("early_states") is None else [{k: v.to(dev) for k, v in s.items()} for s in hit["early_states"]],
    )


def _observing(shared: dict) -> bool:
    """True when early stopping only watches: every epoch runs, its choice is kept aside."""
    return shared["patience"] is not None and not shared["stop_early"]


def _chunk_size(resolved, widths, shared, data, max_memory_bytes) -> int:
    distinct = len({c["seed"] for c in resolved}) > 1
    budget = max_memory_bytes if max_memory_bytes is not None else _default_budget(data.device)
    per_model = _per_model_bytes(widths, shared["batch_size"], len(data.y_val), distinct)
    return max(1, min(len(resolved), budget // per_model))


class _Chunk:
    """One chunk's run: the stack, the histories, each model's stopping rule and final state."""

    def __init__(self, configs, offset, widths, data, shared):
        self.configs, self.offset, self.widths, self.data, self.shared = configs, offset, widths, data, shared
        dev = data.device
        self.stack = Stack(configs, widths, dev, decay_biases=shared["decay_biases"])
        self.histories = [History(device=str(dev), config={**shared, **c}) for c in configs]
        self.stoppers = [EarlyStopping(shared["patience"], shared["min_delta"]) for _ in configs]
        self.states: list[dict | None] = [None] * len(configs)
        self.early: list[dict | None] = [None] * len(configs)
        self.observe = _observing(shared)
        # track the best weights when early stopping restores them or when it only watches
        self.track_best = shared["patience"] is not None and (shared["restore_best"] or self.observe)
        self.keep_best = self.track_best and not self.observe
        self.order_gen = {s: torch.Generator(device=dev).manual_seed(s) for s in sorted({c["seed"] for c in configs})}
        self.total_steps = shared["epochs"] * math.ceil(len(data.y_train) / shared["batch_size"])
        self.t = 0

    def run_epoch(self):
        """Train every live model for one epoch; return summed losses and correct counts ([K])."""
        stack, data, shared = self.stack, self.data, self.shared
        X, y, n, dev = data.X_train, data.y_train, len(data.y_train), data.device
        # every seed's generator advances each epoch, as in fit, even if its models stopped
        perms = {s: torch.randperm(n, generator=g, device=dev) for s, g in self.order_gen.items()}
        live_seeds = [self.configs[i]["seed"] for i in stack.ids]
        one_order = len(set(live_seeds)) == 1
        order = perms[live_seeds[0]] if one_order else torch.stack([perms[s] for s in live_seeds])
        K = len(stack.ids)
        loss_sum = torch.zeros(K, device=dev)
        correct = torch.zeros(K, device=dev, dtype=torch.int64)
        for s0 in range(0, n, shared["batch_size"]):
            idx = order[..., s0 : s0 + shared["batch_size"]]
            B = idx.shape[-1]
            yk = y[idx].expand(K, B)
            masks = stack.masks(B, self.widths[:-1]) if any(stack.site_on) else None
            with hardware.autocast(dev, shared["precision"]):
                logits = stack.forward(X[idx], masks)
                losses = F.cross_entropy(logits.float().reshape(K * B, -1), yk.reshape(-1), reduction="none")
            losses = losses.view(K, B).mean(1)
            losses.sum().backward()
            self.t += 1
            stack.step(shared["optimizer"], self.t, lr_factor(shared["lr_schedule"], self.t - 1, self.total_steps))
            if hardware.flush_due(dev, self.t):
                hardware.flush_subnormals_([*stack.params, *stack.m, *stack.v])
            with torch.no_grad():
                loss_sum += losses.detach() * B
                correct += (logits.argmax(-1) == yk).sum(1)
        return loss_sum, correct

    def finish_model(self, pos: int, i: int, reason: str | None) -> None:
        """Freeze model ``i`` (at ``pos`` in the stack): keep its final or best weights (a
        diverged model keeps its best ones wherever they are tracked)."""
        h = self.histories[i]
        wants_best = self.keep_best or (reason == "diverged" and self.track_best)
        best = wants_best and h.best_epoch > 0
        self.states[i] = self.stack.state_dict(pos, best=best)
        h.restored_best = best
        if reason is not None:
            h.stop_reason = reason
        if reason == "diverged" and self.observe and self.early[i] is None:
            # early stopping never fired before the divergence: it would restore the same
            self.early[i] = self.states[i]
            h.early_stop_best_epoch = h.best_epoch

    def after_epoch(self, epoch: int, loss_sum, correct) -> list[int]:
        """Record the epoch for every live model; return the positions that train on."""
        data, stack = self.data, self.stack
        n, n_val = len(data.y_train), len(data.y_val)
        val_loss, val_correct = loss_and_correct(stack.forward, data.X_val, data.y_val)
        numbers = torch.stack([loss_sum, correct.float(), val_loss, val_correct.float()]).tolist()
        keep, improved = [], []
        for pos, i in enumerate(stack.ids):
            h, stopper = self.histories[i], self.stoppers[i]
            tl, vl = numbers[0][pos] / n, numbers[2][pos] / n_val
            if not (math.isfinite(tl) and math.isfinite(vl)):
                what, value = ("training loss", tl) if not math.isfinite(tl) else ("validation loss", vl)
                if self.shared["on_nonfinite"] == "raise":
                    message = nonfinite_message(what, value, epoch, h.config)
                    raise FloatingPointError(f"configs[{self.offset + i}]: {message}")
                h.stopped_epoch = epoch
                self.finish_model(pos, i, "diverged")
                continue
            h.record(epoch, tl, numbers[1][pos] / n, vl, numbers[3][pos] / n_val)
            if stopper.update(epoch, vl):
                improved.append(pos)
            h.best_epoch, h.best_val_loss = stopper.best_epoch, stopper.best_loss
            if stopper.should_stop and self.observe:
                if self.early[i] is None:  # where early stopping would have ended this run
                    self.early[i] = self.stack.state_dict(pos, best=True)
                    h.early_stop_epoch, h.early_stop_best_epoch = epoch, stopper.best_epoch
            elif stopper.should_stop:
                # patience >= 1, so a model that stops did not improve this epoch
                self.finish_model(pos, i, "early_stopping")
                continue
            keep.append(pos)
        if self.track_best and improved:
            idx = torch.tensor(improved, device=data.device)
            with torch.no_grad():
                for b, p in zip(stack.best, stack.params):
                    b.index_copy_(0, idx, p.detach().index_select(0, idx))
        return keep


def _train_chunk(configs, offset, widths, data, shared, show):
    run = _Chunk(configs, offset, widths, data, shared)
    bar = progress_bar(shared["epochs"], f"sweep {offset}-{offset + len(configs) - 1}", show)
    start_time = time.perf_counter()
    try:
        for epoch in range(1, shared["epochs"] + 1):
            keep = run.after_epoch(epoch, *run.run_epoch())
            best = min(h.best_val_loss for h in run.histories)
            bar.set_postfix(live=len(keep), best_val_loss=f"{best:.4f}")
            bar.update(1)
            if not keep:
                break
            if len(keep) < len(run.stack.ids):
                run.stack.keep(keep)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start_time
    for pos, i in enumerate(run.stack.ids):
        if run.states[i] is None:
            run.finish_model(pos, i, None)
        if run.observe and run.early[i] is None:  # never fired: the best epoch's weights
            run.early[i] = run.stack.state_dict(pos, best=True)
            run.histories[i].early_stop_best_epoch = run.histories[i].best_epoch
    for h in run.histories:
        h.wall_time_s = elapsed
    return run.histories, run.states, run.early
