"""The stacked-weights maths: K networks of one architecture as stacked tensors.

The weights of layer ``l`` of all K networks form one ``[K, in, out]`` tensor and their
biases one ``[K, 1, out]`` tensor, so a batch goes through every network with one batched
matrix multiply per layer (``torch.baddbmm``). :class:`Stack` holds those tensors, each
network's optimizer state and settings, draws each network's dropout masks from its own
generator, and applies torch.optim's SGD/Adam/AdamW updates with a learning rate and weight
decay per network (:func:`update`). The training loop that drives it is
:func:`regutils.sweep`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .models import MLP

__all__ = ["Stack", "update"]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam defaults
MASK_SEED_OFFSET = 0x9E3779B97F4A7C15 % (2**62)  # keeps a model's mask stream apart from its batch order


def update(optimizer, p, g, m, v, t, lr, coupled_wd, decoupled_wd) -> None:
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


class Stack:
    """The live models of a chunk: stacked parameters, optimizer state, per-model settings."""

    def __init__(self, configs, widths, dev, decay_biases: bool = False):
        self.decay_biases = decay_biases  # the policy of regutils.fit: matrices decay, biases only if asked
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
            torch.Generator(device=dev).manual_seed((c["seed"] + MASK_SEED_OFFSET) % (2**63)) if self.model_sites[k] else None
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
        decays = [i < len(self.W) or self.decay_biases for i in range(len(params))]
        if params[0].device.type == "cpu":
            for k in range(len(self.ids)):
                lr = self.lr_values[k] * factor
                dec = self.decoupled_values[k]
                for p, g, m, v, on in zip(params, grads, self.m, self.v, decays):
                    wd = self.wd_values[k] if on else 0.0
                    update(optimizer, p[k], g[k], m[k], v[k], t, lr, 0.0 if dec else wd, wd if dec else 0.0)
        else:
            lr = self.lr * factor
            coupled, decoupled = self.wd * (1.0 - self.decoupled), self.wd * self.decoupled
            for p, g, m, v, on in zip(params, grads, self.m, self.v, decays):
                update(optimizer, p, g, m, v, t, lr, coupled * on, decoupled * on)

    def state_dict(self, pos: int, best: bool) -> dict:
        src = self.best if best else [t.detach() for t in self.params]
        n = len(self.W)
        state = {}
        for l in range(n):
            state[f"layers.{l}.weight"] = src[l][pos].T.contiguous()
            state[f"layers.{l}.bias"] = src[n + l][pos, 0].clone()
        return state
