"""Train many configurations of one MLP architecture at once.

K networks with the same layer widths are stored as stacked tensors — the weights of layer
``l`` as one ``[K, in, out]`` tensor, its biases as ``[K, 1, out]`` — and a batch goes through
all of them with one batched matrix multiply per layer (``torch.baddbmm``). On a GPU this
keeps the device busy where one small network alone would leave it idle; on a CPU it is about
as fast as training the networks one after another.

What each model sees (model ``i`` with configuration seed ``s``):

* initial weights: those of ``MLP(..., seed=s)``;
* batch order: exactly :func:`regutils.fit`'s with ``seed=s`` (its own
  ``torch.Generator`` seeded with ``s``, one ``randperm`` per epoch). Models that share a seed
  therefore see the same batches — a paired comparison of their hyperparameters;
* dropout masks: from a generator of its own, seeded from ``s`` and drawn only for its own
  dropout layers.

So a model's trajectory depends on its own configuration only: changing another model's
hyperparameters leaves it bit-identical. With dropout off, a one-configuration sweep
reproduces ``fit`` with the same seed (same float operations up to summation order). With
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

from .models import MLP, _check_p
from .train import (
    EVAL_BATCH_SIZE,
    History,
    _is_int,
    _progress_bar,
    check_common,
    check_data,
    check_lr,
    check_weight_decay,
    lr_factor,
    nonfinite_message,
    progress_enabled,
)

__all__ = ["SweepResult", "sweep"]

CONFIG_KEYS = ("lr", "p", "input_p", "weight_decay", "decoupled", "seed", "label")
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam defaults
_MASK_SEED_OFFSET = 0x9E3779B97F4A7C15 % (2**62)  # keeps a model's mask stream apart from its batch order


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

    def __len__(self) -> int:
        return len(self.configs)

    def model(self, i: int, device=None) -> MLP:
        """Configuration ``i``'s trained network as an ordinary :class:`~regutils.MLP` (eval mode).

        Weights are the best epoch's when early stopping restored them, else the last epoch's.
        ``device`` defaults to where the weights are.
        """
        cfg = self.configs[i]
        net = MLP(self.input_dim, hidden=self.hidden, out_dim=self.out_dim, p=cfg["p"], input_p=cfg["input_p"])
        state = self.states[i]
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
        check_lr(c["lr"], f"configs[{i}]['lr']")
        check_weight_decay(c["weight_decay"], f"configs[{i}]['weight_decay']")
        if not _is_int(c["seed"]):
            raise ValueError(f"configs[{i}]['seed'] must be an integer, got {c['seed']!r}")
        p = c["p"]
        if isinstance(p, Sequence) and not isinstance(p, str):
            if len(p) != n_hidden:
                raise ValueError(f"configs[{i}]['p'] needs one probability per hidden layer ({n_hidden})")
            ps = [_check_p(q, f"configs[{i}]['p']") for q in p]
        else:
            ps = [_check_p(p, f"configs[{i}]['p']")] * n_hidden
        c["p"] = ps
        c["input_p"] = _check_p(c["input_p"], f"configs[{i}]['input_p']")
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
    seed: int = 0,
    optimizer: str = "adam",
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    lr_schedule: str | None = None,
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
    hidden
        Hidden layer widths shared by every model (the input size comes from ``data``).
    out_dim
        Number of classes (outputs), as in :class:`regutils.MLP`.
    lr, p, input_p, weight_decay, decoupled, seed
        Defaults for the configuration keys of the same names.
    on_nonfinite
        ``"raise"``: a NaN/inf loss in any model raises ``FloatingPointError`` naming the
        configuration and epoch (as ``fit`` does). ``"stop"``: that model is frozen with
        ``stop_reason="diverged"`` (weights of its best epoch if it had one) and the others go on.
    max_memory_bytes
        Memory budget that decides the chunk size.
    progress
        One ``tqdm.auto`` bar per chunk; ``None`` defers to ``REGUTILS_PROGRESS``.
    cache
        Use the on-disk result cache (:mod:`regutils.cache`), keyed by the resolved
        configurations, the shared settings, ``data.spec``, the device type and the source
        of ``regutils``.

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
    check_common(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        patience=patience,
        min_delta=min_delta,
        lr_schedule=lr_schedule,
    )
    if isinstance(hidden, (int, str)) or len(hidden) == 0:
        raise ValueError(f"hidden must be a non-empty sequence of widths, got {hidden!r}")
    hidden = tuple(hidden)
    for w in hidden:
        if not _is_int(w) or w < 1:
            raise ValueError(f"hidden must hold positive integers, got {w!r}")
    if on_nonfinite not in ("raise", "stop"):
        raise ValueError(f"on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")
    if max_memory_bytes is not None and (not _is_int(max_memory_bytes) or max_memory_bytes < 1):
        raise ValueError(f"max_memory_bytes must be a positive integer, got {max_memory_bytes!r}")
    check_data(data)
    defaults = dict(lr=lr, p=p, input_p=input_p, weight_decay=weight_decay, decoupled=decoupled, seed=seed)
    defaults["label"] = None
    resolved = _resolve(configs, defaults, len(hidden))
    if optimizer == "adamw":
        for c in resolved:
            c["decoupled"] = True
    dev = data.device
    input_dim = data.X_train.shape[1]
    if not _is_int(out_dim) or out_dim < 1:
        raise ValueError(f"out_dim must be a positive integer, got {out_dim!r}")
    shared = {
        "hidden": list(hidden),
        "input_dim": input_dim,
        "out_dim": out_dim,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "patience": patience,
        "min_delta": float(min_delta),
        "restore_best": bool(restore_best),
        "lr_schedule": lr_schedule,
        "on_nonfinite": on_nonfinite,
    }

    key = None
    if cache:
        from . import cache as result_cache

        key, hit = result_cache.lookup("sweep", {"configs": resolved, "shared": shared}, data)
        if hit is not None:
            return SweepResult(
                configs=resolved,
                histories=[History.from_dict({**h, "cached": True}) for h in hit["histories"]],
                hidden=hidden,
                input_dim=input_dim,
                out_dim=out_dim,
                states=[{k: v.to(dev) for k, v in s.items()} for s in hit["states"]],
                chunks=list(hit["chunks"]),
                wall_time_s=float(hit["wall_time_s"]),
                cached=True,
            )

    widths = (input_dim, *hidden, out_dim)
    distinct = len({c["seed"] for c in resolved}) > 1
    budget = max_memory_bytes if max_memory_bytes is not None else _default_budget(dev)
    per_model = _per_model_bytes(widths, batch_size, len(data.y_val), distinct)
    chunk = max(1, min(len(resolved), budget // per_model))
    show = progress_enabled(progress)
    start = time.perf_counter()
    histories, states, chunks = [], [], []
    for first in range(0, len(resolved), chunk):
        part = resolved[first : first + chunk]
        h, s = _train_chunk(part, first, widths, data, shared, show)
        histories += h
        states += s
        chunks.append(len(part))
    result = SweepResult(
        configs=resolved,
        histories=histories,
        hidden=hidden,
        input_dim=input_dim,
        out_dim=out_dim,
        states=states,
        chunks=chunks,
        wall_time_s=time.perf_counter() - start,
    )
    if key is not None:
        result_cache.save(
            key,
            {
                "histories": [h.to_dict() for h in histories],
                "states": states,
                "chunks": chunks,
                "wall_time_s": result.wall_time_s,
            },
        )
    return result


def _update(optimizer, p, g, m, v, t, lr, coupled_wd, decoupled_wd) -> None:
    """In-place SGD/Adam/AdamW update of ``p`` (``lr`` and decays: floats, or ``[K, 1, 1]`` tensors).

    The same sequence of operations as ``torch.optim``'s single-tensor implementations:
    SGD ``p -= lr (g + wd p)``; Adam ``g += wd p``, AdamW ``p *= 1 - lr wd``, then
    ``m = lerp(m, g, 1 - b1)``, ``v = b2 v + (1 - b2) g²``,
    ``p -= lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """
    scalar = not isinstance(lr, torch.Tensor)
    if optimizer == "sgd":
        wd = coupled_wd + decoupled_wd  # the same update for plain SGD
        if not scalar:
            p.sub_(lr * g.addcmul(wd, p))
            return
        if wd != 0:
            g = g.add(p, alpha=wd)
        p.add_(g, alpha=-lr)
        return
    if scalar:
        if decoupled_wd != 0:
            p.mul_(1.0 - lr * decoupled_wd)
        if coupled_wd != 0:
            g = g.add(p, alpha=coupled_wd)
    else:
        p.mul_(1.0 - lr * decoupled_wd)
        g = g.addcmul(coupled_wd, p)
    m.lerp_(g, 1.0 - _BETA1)
    v.mul_(_BETA2).addcmul_(g, g, value=1.0 - _BETA2)
    bias_correction1 = 1.0 - _BETA1**t
    bias_correction2_sqrt = math.sqrt(1.0 - _BETA2**t)
    denom = (v.sqrt() / bias_correction2_sqrt).add_(_EPS)
    if scalar:
        p.addcdiv_(m, denom, value=-lr / bias_correction1)
    else:
        p.addcdiv_(m, denom.mul_(bias_correction1 / lr), value=-1.0)


class _Stack:
    """The live models of a chunk: stacked parameters, optimizer state, per-model settings."""

    def __init__(self, configs, widths, dev):
        self.W, self.b = [], []
        nets = [MLP(widths[0], hidden=widths[1:-1], out_dim=widths[-1], seed=c["seed"]) for c in configs]
        for l in range(len(widths) - 1):
            # [K, in, out]: h @ W without a transpose (faster on the CPU than [K, out, in])
            self.W.append(torch.stack([n.layers[l].weight.detach().T for n in nets]).to(dev))
            self.b.append(torch.stack([n.layers[l].bias.detach() for n in nets]).unsqueeze(1).to(dev))  # [K, 1, out]
        for t in self.params:
            t.requires_grad_(True)
        self.m = [torch.zeros_like(t) for t in self.params]
        self.v = [torch.zeros_like(t) for t in self.params]
        self.best = [t.detach().clone() for t in self.params]
        col = lambda vals: torch.tensor(vals, dtype=torch.float32, device=dev).view(-1, 1, 1)  # noqa: E731
        self.lr = col([c["lr"] for c in configs])
        self.wd = col([c["weight_decay"] for c in configs])
        self.decoupled = col([float(c["decoupled"]) for c in configs])
        self.lr_values = [c["lr"] for c in configs]
        self.wd_values = [c["weight_decay"] for c in configs]
        self.decoupled_values = [c["decoupled"] for c in configs]
        # dropout probability per site: the input, then each hidden layer; [K, 1, 1] each
        sites = [[c["input_p"]] + list(c["p"]) for c in configs]
        self.site_p = [col([s[j] for s in sites]) for j in range(len(widths) - 1)]
        self.site_on = [any(s[j] > 0 for s in sites) for j in range(len(widths) - 1)]
        self.model_sites = [[j for j, q in enumerate(s) if q > 0] for s in sites]
        self.mask_gen = [
            torch.Generator(device=dev).manual_seed((c["seed"] + _MASK_SEED_OFFSET) % (2**63)) if self.model_sites[k] else None
            for k, c in enumerate(configs)
        ]
        self.ids = list(range(len(configs)))  # position in the chunk -> index in the chunk's configs

    @property
    def params(self):
        return [*self.W, *self.b]

    def keep(self, positions: list[int]) -> None:
        """Drop every model not in ``positions`` from the batched computation."""
        idx = torch.tensor(positions, device=self.W[0].device)
        n = len(self.W)
        params = [t.detach().index_select(0, idx).requires_grad_(True) for t in self.params]
        self.W, self.b = params[:n], params[n:]
        self.m = [t.index_select(0, idx) for t in self.m]
        self.v = [t.index_select(0, idx) for t in self.v]
        self.best = [t.index_select(0, idx) for t in self.best]
        self.lr, self.wd, self.decoupled = (t.index_select(0, idx) for t in (self.lr, self.wd, self.decoupled))
        self.lr_values = [self.lr_values[i] for i in positions]
        self.wd_values = [self.wd_values[i] for i in positions]
        self.decoupled_values = [self.decoupled_values[i] for i in positions]
        self.site_p = [t.index_select(0, idx) for t in self.site_p]
        self.model_sites = [self.model_sites[i] for i in positions]
        self.site_on = [any(j in s for s in self.model_sites) for j in range(len(self.site_p))]
        self.mask_gen = [self.mask_gen[i] for i in positions]
        self.ids = [self.ids[i] for i in positions]

    def masks(self, batch: int, widths) -> list[torch.Tensor | None]:
        """Inverted-dropout multipliers per site, ``[K, batch, width]`` or None where no model drops."""
        dev = self.W[0].device
        per_model = []
        for k, sites in enumerate(self.model_sites):
            if not sites:
                per_model.append({})
                continue
            draw = torch.rand(batch, sum(widths[j] for j in sites), generator=self.mask_gen[k], device=dev)
            per_model.append(dict(zip(sites, draw.split([widths[j] for j in sites], dim=1))))
        out = []
        for j, on in enumerate(self.site_on):
            if not on:
                out.append(None)
                continue
            ones = None
            u = []
            for draws in per_model:
                if j in draws:
                    u.append(draws[j])
                else:
                    ones = ones if ones is not None else torch.ones(batch, widths[j], device=dev)
                    u.append(ones)  # u = 1 >= p = 0: kept, scale 1
            p = self.site_p[j]
            out.append((torch.stack(u) >= p).to(torch.float32) / (1.0 - p))
        return out

    def forward(self, X: torch.Tensor, masks=None) -> torch.Tensor:
        """Logits ``[K, B, out]`` for ``X`` of shape ``[K, B, in]`` (or ``[B, in]``, shared)."""
        K = len(self.ids)
        h = X if X.dim() == 3 else X.unsqueeze(0).expand(K, *X.shape)
        last = len(self.W) - 1
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            if masks is not None and masks[l] is not None:
                h = h * masks[l]
            h = torch.baddbmm(b, h, W)
            if l < last:
                h = F.relu(h)
        return h

    @torch.no_grad()
    def step(self, optimizer: str, t: int, factor: float) -> None:
        """One optimizer step for every model, following torch.optim's single-tensor updates.

        On a GPU the update runs on the stacked tensors with a learning rate and weight
        decay per model (``[K, 1, 1]``), a few kernels for all models. On a CPU it runs model
        by model on slices, so each pass over a tensor stays in cache (one stacked tensor is
        K times larger than the cache) and the operations are exactly torch.optim's.
        """
        params = self.params
        grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        if params[0].device.type == "cpu":
            for k in range(len(self.ids)):
                lr = self.lr_values[k] * factor
                wd = self.wd_values[k]
                dec = self.decoupled_values[k]
                for p, g, m, v in zip(params, grads, self.m, self.v):
                    _update(optimizer, p[k], g[k], m[k], v[k], t, lr, 0.0 if dec else wd, wd if dec else 0.0)
        else:
            lr = self.lr * factor
            for p, g, m, v in zip(params, grads, self.m, self.v):
                _update(optimizer, p, g, m, v, t, lr, self.wd * (1.0 - self.decoupled), self.wd * self.decoupled)

    def state_dict(self, pos: int, best: bool) -> dict:
        src = self.best if best else [t.detach() for t in self.params]
        n = len(self.W)
        state = {}
        for l in range(n):
            state[f"layers.{l}.weight"] = src[l][pos].T.contiguous()
            state[f"layers.{l}.bias"] = src[n + l][pos, 0].clone()
        return state


def _train_chunk(configs, offset, widths, data, shared, show):
    dev = data.device
    epochs, batch_size = shared["epochs"], shared["batch_size"]
    patience, min_delta = shared["patience"], shared["min_delta"]
    keep_best = patience is not None and shared["restore_best"]
    X, y = data.X_train, data.y_train
    n, n_val = len(y), len(data.y_val)
    K = len(configs)
    stack = _Stack(configs, widths, dev)
    histories = [History(device=str(dev), config={**shared, **c}) for c in configs]
    states: list[dict | None] = [None] * K
    since_best = [0] * K
    seeds = sorted({c["seed"] for c in configs})
    order_gen = {s: torch.Generator(device=dev).manual_seed(s) for s in seeds}
    total_steps = epochs * math.ceil(n / batch_size)
    t = 0
    bar = _progress_bar(epochs, f"sweep {offset}-{offset + K - 1}", show)
    start_time = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            # every seed's generator advances each epoch, as in fit, even if its models stopped
            perms = {s: torch.randperm(n, generator=g, device=dev) for s, g in order_gen.items()}
            live_seeds = [configs[i]["seed"] for i in stack.ids]
            one_order = len(set(live_seeds)) == 1
            if one_order:
                order = perms[live_seeds[0]]
            else:
                order = torch.stack([perms[s] for s in live_seeds])  # [K, n]
            Kl = len(stack.ids)
            loss_sum = torch.zeros(Kl, device=dev)
            correct = torch.zeros(Kl, device=dev, dtype=torch.int64)
            for s0 in range(0, n, batch_size):
                idx = order[..., s0 : s0 + batch_size]
                Xb, yb = X[idx], y[idx]  # [B, in] or [K, B, in]
                B = idx.shape[-1]
                masks = stack.masks(B, widths[:-1]) if any(stack.site_on) else None
                logits = stack.forward(Xb, masks)
                yk = yb.expand(Kl, B) if one_order else yb
                losses = F.cross_entropy(logits.reshape(Kl * B, -1), yk.reshape(-1), reduction="none").view(Kl, B).mean(1)
                losses.sum().backward()
                t += 1
                stack.step(shared["optimizer"], t, lr_factor(shared["lr_schedule"], t - 1, total_steps))
                with torch.no_grad():
                    loss_sum += losses.detach() * B
                    correct += (logits.argmax(-1) == yk).sum(1)
            val_loss, val_correct = _evaluate_stack(stack, data.X_val, data.y_val)
            numbers = torch.stack([loss_sum, correct.float(), val_loss, val_correct.float()]).tolist()
            keep = []
            improved = []
            for pos, i in enumerate(stack.ids):
                h = histories[i]
                tl, vl = numbers[0][pos] / n, numbers[2][pos] / n_val
                h.stopped_epoch = epoch
                if not (math.isfinite(tl) and math.isfinite(vl)):
                    what, value = ("training loss", tl) if not math.isfinite(tl) else ("validation loss", vl)
                    if shared["on_nonfinite"] == "raise":
                        raise FloatingPointError(f"configs[{offset + i}]: " + nonfinite_message(what, value, epoch, h.config))
                    h.stop_reason = "diverged"
                    states[i] = stack.state_dict(pos, best=h.best_epoch > 0 and keep_best)
                    h.restored_best = h.best_epoch > 0 and keep_best
                    continue
                h.train_loss.append(tl)
                h.train_acc.append(numbers[1][pos] / n)
                h.val_loss.append(vl)
                h.val_acc.append(numbers[3][pos] / n_val)
                if vl < h.best_val_loss - min_delta or h.best_epoch == 0:
                    h.best_val_loss, h.best_epoch = vl, epoch
                    since_best[i] = 0
                    improved.append(pos)
                else:
                    since_best[i] += 1
                if patience is not None and since_best[i] >= patience:
                    h.stop_reason = "early_stopping"
                    # patience >= 1, so a model that stops did not improve this epoch
                    states[i] = stack.state_dict(pos, best=keep_best)
                    h.restored_best = keep_best
                    continue
                keep.append(pos)
            if keep_best and improved:
                idx = torch.tensor(improved, device=dev)
                with torch.no_grad():
                    for b, p in zip(stack.best, stack.params):
                        b.index_copy_(0, idx, p.detach().index_select(0, idx))
            bar.set_postfix(
                live=len(keep),
                best_val_loss=f"{min(histories[i].best_val_loss for i in range(K)):.4f}",
            )
            bar.update(1)
            if not keep:
                break
            if len(keep) < len(stack.ids):
                stack.keep(keep)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start_time
    for pos, i in enumerate(stack.ids):
        if states[i] is None:
            states[i] = stack.state_dict(pos, best=keep_best)
            histories[i].restored_best = keep_best
    for h in histories:
        h.wall_time_s = elapsed
    return histories, states


@torch.no_grad()
def _evaluate_stack(stack: _Stack, X: torch.Tensor, y: torch.Tensor):
    K = len(stack.ids)
    loss = torch.zeros(K, device=X.device)
    correct = torch.zeros(K, device=X.device, dtype=torch.int64)
    for s0 in range(0, len(y), EVAL_BATCH_SIZE):
        logits = stack.forward(X[s0 : s0 + EVAL_BATCH_SIZE])
        yb = y[s0 : s0 + EVAL_BATCH_SIZE].expand(K, -1)
        loss += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none").view(K, -1).sum(1)
        correct += (logits.argmax(-1) == yb).sum(1)
    return loss, correct
