"""The MNIST training runs that several neural-network chapters share, defined once.

The result cache (:mod:`regutils.cache`) serves a run to every chapter that asks for it with
exactly the same arguments. Keeping those arguments here, rather than copied into each
chapter, makes the match certain: the dropout chapter's confusion matrix and the
experiments chapter's table come from the same trained networks, trained once per build.

The recipe: a 784-400-400-400-400-10 ReLU network, Adam at ``lr = 1e-3``, batches of 128,
the learning rate cosine-decayed to zero over the run. Annealing the rate buys more accuracy
per epoch than a constant rate; the number of epochs in ``FULL_DATA`` is what lets the whole
book execute on a two-core CPU in minutes, and the chapters state what that costs.
"""

from __future__ import annotations

from dataclasses import replace

__all__ = [
    "HIDDEN",
    "FULL_DATA",
    "EXPERIMENT_P",
    "EXPERIMENT_WEIGHT_DECAY",
    "EXPERIMENT_PATIENCE",
    "DROPOUT_FULL_P",
    "DROPOUT_FULL_WEIGHT_DECAY",
    "label_of",
    "full_data_configs",
    "early_stopping_configs",
    "run_full_data",
    "run_early_stopping",
    "indices",
    "with_validation_rows",
    "SUBSET_ROWS",
    "SUBSET_VAL_ROWS",
    "SUBSET_FIT",
    "subset_data",
    "fit_subset",
]

HIDDEN = (400, 400, 400, 400)
# shared by every full-data run: keyword arguments of regutils.sweep
FULL_DATA = dict(
    hidden=HIDDEN,
    epochs=12,  # passes over the 48,000 training rows
    batch_size=128,  # rows per Adam step (375 steps per epoch)
    lr=1e-3,  # Adam's step size at the start; cosine-decayed to 0 by the last step
    optimizer="adam",
    lr_schedule="cosine",
)
EXPERIMENT_P = 0.2  # dropout probability after every hidden layer
EXPERIMENT_WEIGHT_DECAY = 1e-4  # coupled L2: Adam(weight_decay=1e-4), i.e. (1e-4 / 2)‖w‖² in the loss
EXPERIMENT_PATIENCE = 2  # epochs without a lower validation loss before stopping
SEEDS = (0, 1)  # seeds of every experiment
# the dropout chapter's full-data sweep: these rates, three seeds each, on top of the
# experiments' weight decay, so that its p = 0 and p = EXPERIMENT_P points are experiments 2 and 3
DROPOUT_FULL_P = (0.0, 0.2, 0.5)
DROPOUT_FULL_WEIGHT_DECAY = EXPERIMENT_WEIGHT_DECAY
DROPOUT_FULL_SEEDS = (0, 1, 2)


# small-data runs: few rows, so the network overfits strongly and a run costs about as much
# as one epoch on the full training set
SUBSET_ROWS = 2_000  # training rows, a fixed random draw (seed 0) from the 48,000
SUBSET_VAL_ROWS = 2_000  # validation rows checked after each epoch (final scores use all 12,000)
SUBSET_FIT = dict(
    epochs=20,  # 20 x 16 = 320 Adam steps
    batch_size=128,
    lr=1e-3,
    optimizer="adam",
    lr_schedule="cosine",
)


def label_of(p: float, weight_decay: float) -> str:
    """The name the chapters use for a full-data configuration."""
    if weight_decay == 0:
        return "none" if p == 0 else f"dropout {p:g}"
    if p == 0:
        return "weight decay"
    return "weight decay + dropout" if p == EXPERIMENT_P else f"weight decay + dropout {p:g}"


def full_data_configs() -> list[dict]:
    """Configurations of the shared full-data sweep, each with a ``label`` (:func:`label_of`).

    The experiments ``"none"``, ``"weight decay"`` and ``"weight decay + dropout"`` with the
    seeds ``SEEDS``, and the dropout chapter's rates ``DROPOUT_FULL_P`` with weight
    decay ``DROPOUT_FULL_WEIGHT_DECAY`` and seeds ``DROPOUT_FULL_SEEDS``; a run that
    both need appears once.
    """
    runs = [(0.0, 0.0, s) for s in SEEDS]
    runs += [(0.0, EXPERIMENT_WEIGHT_DECAY, s) for s in SEEDS]
    runs += [(EXPERIMENT_P, EXPERIMENT_WEIGHT_DECAY, s) for s in SEEDS]
    runs += [(p, DROPOUT_FULL_WEIGHT_DECAY, s) for p in DROPOUT_FULL_P for s in DROPOUT_FULL_SEEDS]
    configs, seen = [], set()
    for p, wd, s in runs:
        if (p, wd, s) in seen:
            continue
        seen.add((p, wd, s))
        configs.append(dict(label=label_of(p, wd), p=p, weight_decay=wd, seed=s))
    return configs


def early_stopping_configs() -> list[dict]:
    """Experiments 4 and 5: weight decay with early stopping, and all three techniques."""
    configs = [
        dict(label="weight decay + early stopping", p=0.0, weight_decay=EXPERIMENT_WEIGHT_DECAY, seed=s)
        for s in SEEDS
    ]
    configs += [
        dict(label="all three", p=EXPERIMENT_P, weight_decay=EXPERIMENT_WEIGHT_DECAY, seed=s) for s in SEEDS
    ]
    return configs


def run_full_data(data):
    """:func:`regutils.sweep` of :func:`full_data_configs` with ``FULL_DATA``, cached."""
    from .sweeps import sweep

    return sweep(full_data_configs(), data, **FULL_DATA, cache=True)


def run_early_stopping(data):
    """:func:`regutils.sweep` of :func:`early_stopping_configs`, with early stopping, cached."""
    from .sweeps import sweep

    return sweep(early_stopping_configs(), data, **FULL_DATA, patience=EXPERIMENT_PATIENCE, cache=True)


def indices(result, label: str) -> list[int]:
    """Positions of the configurations of a sweep result whose ``label`` is ``label``.

    Raises
    ------
    KeyError
        If no configuration has that label (the message lists the labels there are).
    """
    found = [i for i, c in enumerate(result.configs) if c.get("label") == label]
    if not found:
        labels = sorted({str(c.get("label")) for c in result.configs})
        raise KeyError(f"no configuration labelled {label!r}; labels: {', '.join(labels)}")
    return found


def with_validation_rows(data, n_val: int):
    """``data`` with only the first ``n_val`` validation rows (a cheaper per-epoch check).

    A training run evaluates the whole validation set after every epoch; on a small training
    subset that costs more than the epoch itself. The test set is unchanged, and ``spec``
    records ``n_val_used`` so cached results of the two versions never mix.
    """
    total = len(data.y_val)
    if isinstance(n_val, bool) or not isinstance(n_val, int) or not 1 <= n_val <= total:
        raise ValueError(f"n_val must be an integer in [1, {total}], got {n_val!r}")
    spec = {**data.spec, "n_val_used": n_val}
    return replace(data, X_val=data.X_val[:n_val], y_val=data.y_val[:n_val], spec=spec)


def subset_data(data):
    """The small-data version of ``data``: ``SUBSET_ROWS`` training rows (subset seed 0)
    and the first ``SUBSET_VAL_ROWS`` validation rows; test set unchanged."""
    return with_validation_rows(data.subset(SUBSET_ROWS, seed=0), SUBSET_VAL_ROWS)


def fit_subset(small, *, p: float = 0.0, seed: int = 0, **overrides):
    """Train the book's MLP (``HIDDEN``, dropout ``p``, initial weights from ``seed``) on
    ``small`` with ``SUBSET_FIT``, cached; ``overrides`` replace or add
    :func:`regutils.fit` arguments (``weight_decay``, ``optimizer``, ``patience`` …).

    Returns
    -------
    (MLP, History)
        The trained network (evaluation mode) and its history.
    """
    from .models import MLP
    from .training import fit

    model = MLP(hidden=HIDDEN, p=p, seed=seed)
    history = fit(model, small, **{**SUBSET_FIT, "seed": seed, **overrides}, cache=True)
    return model.eval(), history
