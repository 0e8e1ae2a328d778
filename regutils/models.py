"""The networks the chapters train: a fully connected ReLU network with per-layer dropout.

Models return logits. The loss (``torch.nn.functional.cross_entropy``) applies the
log-softmax itself, so a model must never end in a softmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_int, check_real

__all__ = ["MLP", "dropout"]


def check_p(p, name: str = "p") -> float:
    """A dropout probability: a number in [0, 1)."""
    return check_real(name, p, 0.0, 1.0, closed="left")


def dropout(
    X: torch.Tensor,
    p: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Inverted dropout, written out: zero each entry with probability ``p``, scale the rest.

    In training mode the result is ``X * m / (1 - p)`` with ``m`` independent Bernoulli(``1 - p``)
    variables, one per entry of ``X``. Dividing by ``1 - p`` keeps the expectation unchanged,
    ``E[dropout(X)] = X``, so nothing needs rescaling at test time: in evaluation mode
    (``training=False``) and for ``p = 0`` the input is returned unchanged.
    :class:`torch.nn.Dropout` computes the same function up to rounding: it multiplies the
    survivors by ``1 / (1 - p)`` where this divides them by ``1 - p`` (the two can differ in
    the last bit), and it draws its masks its own way.

    Parameters
    ----------
    X
        Any floating-point tensor.
    p
        Probability of zeroing an entry, in [0, 1).
    training
        If False, return ``X`` itself.
    generator
        Random source for the mask (default: torch's global generator).

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1).
    """
    p = check_p(p)
    if not training or p == 0.0:
        return X
    keep = torch.rand(X.shape, device=X.device, generator=generator) >= p
    return X * keep / (1.0 - p)


class MLP(nn.Module):
    """Fully connected network: ``Linear → ReLU → (dropout)`` per hidden layer, then ``Linear``.

    Two ways to describe the same network. The original notebooks' form counts *linear
    layers* and switches dropout per hidden layer::

        MLP(784, 400, 10, num_layers=5, dropout=[True, True, False, False], dropout_p=0.5)

    builds 784-400-400-400-400-10 with dropout after the first two hidden layers. The
    shorter form lists the hidden widths and one dropout probability (or one per layer)::

        MLP(hidden=(400, 400, 400, 400), p=0.2)

    ``forward`` returns **logits**. The original notebooks ended the network with a softmax
    and then passed its output to ``CrossEntropyLoss``, which applies log-softmax again: a
    double softmax. The loss of such a network can never drop much below about 1.46 (the
    outputs live in [0, 1], so the largest attainable gap between logits is 1), test loss
    stalled near 1.48 and the gradients shrank as the network became confident. Here the
    softmax is left to the loss.

    Parameters
    ----------
    input_dim, out_dim
        Input features and classes.
    hidden_dim, num_layers
        Original form: width of every hidden layer and number of linear layers
        (``num_layers - 1`` hidden layers; defaults 400 and 5).
    dropout
        Original form: one flag per hidden layer; ``None`` means no dropout.
    dropout_p
        Dropout probability where ``dropout`` is True (default 0.5).
    hidden
        Short form: the hidden widths. Cannot be combined with ``hidden_dim``/``num_layers``.
    p
        Short form: dropout probability after every hidden layer, or a sequence with one
        probability per hidden layer. Cannot be combined with ``dropout``.
    input_p
        Dropout probability applied to the input features (default 0, none).
    seed
        If given, the initial weights are those torch draws right after
        ``torch.manual_seed(seed)``, and torch's global random state is left as it was.

    Raises
    ------
    ValueError
        Naming the parameter: a probability outside [0, 1), empty ``hidden``, a non-positive
        width, ``num_layers < 2``, a ``dropout``/``p`` list of the wrong length, or both forms
        mixed.
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int | None = None,
        out_dim: int = 10,
        num_layers: int | None = None,
        dropout: Sequence[bool] | None = None,
        dropout_p: float = 0.5,
        *,
        hidden: Sequence[int] | None = None,
        p: float | Sequence[float] | None = None,
        input_p: float = 0.0,
        seed: int | None = None,
    ):
        super().__init__()
        if hidden is not None:
            if hidden_dim is not None or num_layers is not None:
                raise ValueError("give either hidden=(...) or hidden_dim/num_layers, not both")
            if isinstance(hidden, (int, str)) or len(hidden) == 0:
                raise ValueError(f"hidden must be a non-empty sequence of widths, got {hidden!r}")
            hidden = tuple(hidden)
        else:
            hidden_dim = 400 if hidden_dim is None else hidden_dim
            num_layers = 5 if num_layers is None else num_layers
            check_int("num_layers", num_layers, 2)
            hidden = (hidden_dim,) * (num_layers - 1)
        check_int("input_dim", input_dim, 1)
        check_int("out_dim", out_dim, 1)
        for width in hidden:
            check_int("each width in hidden", width, 1)

        n_hidden = len(hidden)
        if dropout is not None and p is not None:
            raise ValueError("give either dropout=[flags] (with dropout_p) or p, not both")
        if dropout is not None:
            flags = list(dropout)
            if len(flags) != n_hidden:
                raise ValueError(f"dropout needs one flag per hidden layer ({n_hidden}), got {len(flags)}")
            dropout_p = check_p(dropout_p, "dropout_p")
            ps = tuple(dropout_p if flag else 0.0 for flag in flags)
        elif p is None:
            ps = (0.0,) * n_hidden
        elif isinstance(p, Sequence):
            if len(p) != n_hidden:
                raise ValueError(f"p needs one probability per hidden layer ({n_hidden}), got {len(p)}")
            ps = tuple(check_p(q) for q in p)
        else:
            ps = (check_p(p),) * n_hidden

        self.input_dim, self.out_dim = input_dim, out_dim
        self.hidden = hidden
        self.p = ps
        self.input_p = check_p(input_p, "input_p")
        check_int("seed", seed, 0, allow_none=True)
        widths = (input_dim, *hidden, out_dim)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, out_dim]`` for inputs ``[N, input_dim]``."""
        # dropout() draws a float32 uniform per unit and keeps it when u >= p: exactly
        # nn.Dropout's distribution, and on a CPU a few times cheaper than F.dropout's
        # Bernoulli sampler
        X = dropout(X, self.input_p, self.training)
        for layer, p in zip(self.layers[:-1], self.p):
            X = dropout(F.relu(layer(X)), p, self.training)
        return self.layers[-1](X)

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}, p={self.p}, input_p={self.input_p}"
