"""The MNIST training runs the neural-network chapters share, defined once.

The result cache (:mod:`regutils.cache`) serves a run to every chapter that asks for it with
exactly the same arguments. Keeping those arguments here, rather than copied into each
chapter, makes the match certain: the dropout chapter's figures and the experiments
chapter's table come from the same trained networks, trained once per build.

Two regimes, each with one recipe for every device (a GPU only makes it faster):

**Full data** (:data:`FULL_DATA`): the 784-400-400-400-400-10 ReLU network on all 48,000
training images, Adam at ``lr = 1e-3`` cosine-decayed to zero over 30 epochs, batches of 256.
The evidence for batch 256 (``data_files/recipe_search_h100.json``, shown on the Performance
page): three seeds per recipe, each seed's validation error averaged over four
configurations, paired by seed; batch 256 at ``lr = 1e-3`` was not distinguishable from batch
128 (its 95 % interval contains 0), and it halves the number of optimizer steps.
Every configuration trains with the same :data:`SEEDS` (same initial weights and batch order:
paired comparisons). Early stopping *watches* these runs (``stop_early=False``): the weights
it would have restored are kept beside the final ones, so "with early stopping" costs no
second run and is paired with "without" on the very same trajectory.

**Small, noisy data** (:data:`REGIME`): a few thousand training images, a fifth of their labels
wrong, and enough steps for the unregularized network to memorize most of the wrong labels —
the regime where each technique has something to prevent (Zhang et al. 2017; Arpit et al.
2017). The learning rate decays to zero along a cosine from the full-data recipe's starting
rate (over 800 steps rather than 5,640). Each technique's strength is chosen on validation
error from a short list of candidates, separately for every training-set size. The
early-stopping chapter trains the unregularized network of this regime once more at a
constant learning rate (``run_regime(..., constant_rate=True)``), where the weights keep
moving until the last step and early stopping has a clear validation minimum to find.
"""

from __future__ import annotations

from .checks import Options, check, check_bool, check_options

__all__ = [
    "HIDDEN",
    "FULL_DATA",
    "EXPERIMENT_P",
    "EXPERIMENT_WEIGHT_DECAY",
    "EXPERIMENT_PATIENCE",
    "SEEDS",
    "FULL_LABELS",
    "FULL_EXPERIMENTS",
    "full_data_configs",
    "run_full_data",
    "full_data_model",
    "full_data_scores",
    "full_data_comparisons",
    "REGIME",
    "WEIGHT_DECAY_PILOTS",
    "regime_data",
    "regime_configs",
    "run_regime",
    "score_regime",
    "indices",
    "SUBSET_ROWS",
    "SUBSET_VAL_ROWS",
    "SUBSET_FIT",
    "subset_data",
    "fit_subset",
]

#: Hidden-layer widths of the book's network.
HIDDEN = (400, 400, 400, 400)

#: Keyword arguments of :func:`regutils.sweep` shared by every full-data run.
FULL_DATA = dict(
    hidden=HIDDEN,
    epochs=30,  # passes over the 48,000 training rows (5,640 Adam steps)
    batch_size=256,  # rows per Adam step
    lr=1e-3,  # Adam's step size at the start; cosine-decayed to 0 by the last step
    optimizer="adam",
    lr_schedule="cosine",
)
#: Dropout probability after every hidden layer in the experiments.
EXPERIMENT_P = 0.2
#: Coupled L2 of the experiments: ``Adam(weight_decay=1e-4)`` on the weight matrices.
EXPERIMENT_WEIGHT_DECAY = 1e-4
#: Epochs without a lower validation loss before early stopping fires.
EXPERIMENT_PATIENCE = 3
#: Seed ``s`` gives every configuration the same initial weights and batch order.
SEEDS = (0, 1, 2)

# the trained configurations; early stopping is read off each of them (stop_early=False)
#: The trained full-data configurations.
FULL_LABELS = ("none", "weight decay", "weight decay + dropout")
#: The full-data experiments the chapters compare: name -> (trained configuration of
#: :data:`FULL_LABELS`, the weights early stopping would have restored instead of the final ones?).
FULL_EXPERIMENTS = {
    "unregularized": ("none", False),
    "weight decay": ("weight decay", False),
    "weight decay + dropout": ("weight decay + dropout", False),
    "weight decay + early stopping": ("weight decay", True),
    "all three": ("weight decay + dropout", True),
    "early stopping": ("none", True),
}


def full_data_configs() -> list[dict]:
    """The full-data configurations, each with a ``label`` and every seed of :data:`SEEDS`."""
    settings = {
        "none": dict(p=0.0, weight_decay=0.0),
        "weight decay": dict(p=0.0, weight_decay=EXPERIMENT_WEIGHT_DECAY),
        "weight decay + dropout": dict(p=EXPERIMENT_P, weight_decay=EXPERIMENT_WEIGHT_DECAY),
    }
    return [dict(label=label, seed=s, **settings[label]) for label in FULL_LABELS for s in SEEDS]


def run_full_data(data):
    """:func:`regutils.sweep` of :func:`full_data_configs` with :data:`FULL_DATA`, cached.

    Early stopping with :data:`EXPERIMENT_PATIENCE` watches every run; ``result.model(i,
    early_stopped=True)`` is configuration ``i`` with early stopping.
    """
    from .sweeps import sweep

    return sweep(
        full_data_configs(), data, **FULL_DATA, patience=EXPERIMENT_PATIENCE, stop_early=False, cache=True
    )


def full_data_model(result, label: str, seed: int, *, early_stopped: bool = False):
    """The trained network of configuration ``label`` with seed ``seed`` from :func:`run_full_data`.

    Raises
    ------
    ValueError
        If no configuration has that label (:func:`indices`), none of them that seed (the
        message lists the seeds there are), or ``early_stopped`` is not True or False.
    """
    found = indices(result, label)
    check_options("seed", seed, [result.configs[i]["seed"] for i in found])
    check_bool("early_stopped", early_stopped)
    (i,) = [i for i in found if result.configs[i]["seed"] == seed]
    return result.model(i, early_stopped=early_stopped)


def full_data_scores(result, data, label: str, *, early_stopped: bool = False, split: str = "test") -> list[dict]:
    """:func:`regutils.evaluate` on ``split`` of configuration ``label``'s network for every
    seed of :data:`SEEDS`, in seed order: one paired sample per metric (``[r["error"] for r in
    ...]``). ``early_stopped=True`` scores the weights early stopping would have restored."""
    from .evaluation import evaluate

    return [
        evaluate(full_data_model(result, label, s, early_stopped=early_stopped), data, split)
        for s in SEEDS
    ]


def full_data_comparisons(result, data, *, page: str, data_label: str) -> list[dict]:
    """Every experiment of :data:`FULL_EXPERIMENTS` but the unregularized one against the
    unregularized network, paired over :data:`SEEDS`: test error, then test loss, for each in
    order (:func:`regutils.stats.paired_comparison`; error as a fraction). The family the experiments
    chapter reads with Holm's adjustment."""
    from .stats import paired_comparison

    scores = {name: full_data_scores(result, data, label, early_stopped=early)
              for name, (label, early) in FULL_EXPERIMENTS.items()}
    return [
        paired_comparison([r[metric] for r in scores[name]],
                          [r[metric] for r in scores["unregularized"]],
                          page=page, data=data_label, metric=f"test {metric}", a_label=name,
                          b_label="unregularized")
        for name in list(FULL_EXPERIMENTS)[1:]
        for metric in ("error", "loss")
    ]


# The small-data regime: keyword arguments and choices, with units in the comments.
#: The small noisy-data regime (sizes, noise, seeds, steps, candidates).
REGIME = dict(
    sizes=(1_000, 4_000),  # training rows, each a fixed random draw (seed 0) from the 48,000
    label_noise=0.2,  # fraction of training labels replaced by a random wrong class
    val_rows=2_000,  # validation rows checked after each epoch and used for every choice
    seeds=(0, 1, 2, 3, 4),  # paired seeds
    steps=800,  # Adam steps per run at every size (epochs = steps / batches per epoch)
    # Adam's step size at the start, cosine-decayed to 0 by the last step
    fit=dict(hidden=HIDDEN, batch_size=125, lr=1e-3, optimizer="adam", lr_schedule="cosine"),
    patience=10,  # early stopping watches every run with this patience
    candidates={  # each technique's strengths, chosen on validation error per size
        "dropout": [dict(p=0.2), dict(p=0.5)],
        # coupled L2 (the experiments' form) and decoupled AdamW, the best of each kind in
        # the pilots of WEIGHT_DECAY_PILOTS
        "weight decay": [dict(weight_decay=1e-3), dict(weight_decay=3.0, decoupled=True)],
    },
)

#: How weight decay's candidates in :data:`REGIME` were drawn up: pilot runs judged on
#: validation error only, each before the version of the regime it served; the best strength
#: of each kind was kept. Two rounds, in order. After the first, at a constant learning rate,
#: the regime trained at that rate with the first round's candidates (``kept``) and weight
#: decay's test-error comparison was not decided (``regime_result``: the record of that build,
#: kept here because that version of the regime no longer runs). The regime's schedule was then
#: changed to the full-data recipe's cosine decay, and the second round drew up the candidates
#: again, knowing that version's test result.
WEIGHT_DECAY_PILOTS = (
    dict(
        lr_schedule=None,  # constant
        n_train=1_000,  # the regime's smallest size, with its label noise
        seeds=(0, 1),  # two of the regime's seeds
        metric="validation error",
        tried=(
            "Adam with coupled L2 (weight_decay 1e-3 and 1e-2)",
            "AdamW (weight_decay from 0.1 to 100)",
            "plain SGD with L2",
        ),
        lowered_clearly=False,  # no strength tried lowered validation error clearly
        kept=("coupled L2 with weight_decay 1e-3", "AdamW with weight_decay 0.3"),
        # test error with weight decay minus without, five paired seeds, per training-set
        # size: mean and 95 % interval in percentage points
        regime_result={
            1_000: dict(delta=-0.20, ci_low=-1.88, ci_high=1.47),
            4_000: dict(delta=0.27, ci_low=-1.25, ci_high=1.78),
        },
    ),
    dict(
        lr_schedule="cosine",
        n_train=1_000,
        seeds=(0, 1),
        metric="validation error",
        tried=(
            "Adam with coupled L2 (weight_decay 1e-3 and 1e-2)",
            "AdamW (weight_decay 0.3, 1, 3 and 10)",
        ),
        # mean validation error over the two seeds, in percent: the unregularized network
        # 23.83; the best of each kind: coupled L2 1e-3 23.43, AdamW 3 22.53
        lowered_clearly=True,  # AdamW 3 was lower than the unregularized network in both seeds
    ),
)


def _check_mnist(data) -> None:
    from .data import MNISTData

    if not isinstance(data, MNISTData):
        raise ValueError(f"data must be the MNISTData of regutils.load_mnist(), got {type(data).__name__}")


def regime_data(data, n_train: int):
    """``n_train`` training rows with :data:`REGIME`'s label noise, and its validation rows."""
    _check_mnist(data)
    small = data.subset(n_train, seed=0, n_val=REGIME["val_rows"])
    return small.with_label_noise(REGIME["label_noise"], seed=0)


def regime_configs(technique: str | None = None) -> list[dict]:
    """Configurations of the regime for one technique (``None``: all), every seed each.

    ``"unregularized"``: the network without regularization (label ``"none"``), on which early
    stopping watches; ``"dropout"`` and ``"weight decay"``: every candidate of
    :data:`REGIME`, with labels such as ``"dropout p=0.5"`` or ``"AdamW weight_decay=3"``.
    Any other ``technique`` is a ``ValueError`` that lists these.
    """
    groups = {"unregularized": [dict(label="none")]}
    for name, options in REGIME["candidates"].items():
        groups[name] = []
        for option in options:
            if "p" in option:
                label = f"dropout p={option['p']:g}"
            elif option.get("decoupled"):
                label = f"AdamW weight_decay={option['weight_decay']:g}"
            else:
                label = f"Adam + L2 weight_decay={option['weight_decay']:g}"
            groups[name].append(dict(label=label, **option))
    check("technique", technique, Options(tuple(groups)), allow_none=True)
    chosen = groups if technique is None else {technique: groups[technique]}
    return [dict(c, seed=s) for options in chosen.values() for c in options for s in REGIME["seeds"]]


def run_regime(data, n_train: int, technique: str = "unregularized", *, constant_rate: bool = False):
    """``(small, result)``: :func:`regutils.sweep` of one technique's :func:`regime_configs` on
    :func:`regime_data`, cached (one cache entry per technique and size, so changing one
    technique's candidates retrains only that technique).

    Early stopping watches every run (``stop_early=False``), so the unregularized runs also
    give the early-stopped networks, paired with them on the same trajectory.
    ``constant_rate=True`` trains the same configurations at :data:`REGIME`'s starting learning
    rate throughout instead of its cosine decay (the early-stopping chapter's runs).
    """
    from .sweeps import sweep

    check_bool("constant_rate", constant_rate)
    configs = regime_configs(technique)  # an unknown technique fails before any data is drawn
    small = regime_data(data, n_train)
    batches = -(-n_train // REGIME["fit"]["batch_size"])
    epochs = max(1, REGIME["steps"] // batches)
    fit = dict(REGIME["fit"], lr_schedule=None) if constant_rate else REGIME["fit"]
    result = sweep(
        configs, small, **fit, epochs=epochs,
        patience=REGIME["patience"], stop_early=False, cache=True,
    )
    return small, result


def _errors(result, small, i: int, early_stopped: bool = False) -> tuple[float, float]:
    from .evaluation import evaluate

    model = result.model(i, early_stopped=early_stopped)
    return evaluate(model, small, "val")["error"], evaluate(model, small, "test")["error"]


def score_regime(data, n_train: int):
    """Validation and test error of every network of the regime at ``n_train``, and each
    technique's choice (trains what the cache does not hold).

    Returns a pandas DataFrame with one row per (``technique``, ``candidate``, ``seed``):
    ``technique`` is ``"unregularized"`` (the last epoch's weights of ``"none"``),
    ``"early stopping"`` (the weights early stopping would have restored on the same runs),
    ``"dropout"`` or ``"weight decay"``; ``val_error`` and ``test_error`` are fractions;
    ``chosen`` marks, per technique, the candidate with the lowest mean *validation* error
    over the seeds (the test set plays no part in the choice).

    The scores are cached too (kind ``"scores"`` of :mod:`regutils.cache`), keyed on digests
    of every scored network's weights, of the test tensors and of this module's code, so the
    chapters that read the same table score the networks once.
    """
    import pandas as pd

    from . import cache as result_cache

    runs = {t: run_regime(data, n_train, t) for t in ("unregularized", *REGIME["candidates"])}
    small = runs["unregularized"][0]
    key, hit = result_cache.lookup("scores", _scores_config(runs), small)
    rows = hit["rows"] if hit is not None else _score_rows(runs)
    if key is not None and hit is None:
        result_cache.save(key, {"rows": rows})
    frame = pd.DataFrame(rows)
    mean_val = frame.groupby(["technique", "candidate"])["val_error"].mean()
    best = set(mean_val.groupby(level="technique").idxmin())
    frame["chosen"] = [(t, c) in best for t, c in zip(frame["technique"], frame["candidate"])]
    return frame


def _score_rows(runs) -> list[dict]:
    rows = []
    for technique, (small, result) in runs.items():
        for i, cfg in enumerate(result.configs):
            val, test = _errors(result, small, i)
            rows.append(dict(technique=technique, candidate=cfg["label"], seed=int(cfg["seed"]),
                             val_error=float(val), test_error=float(test)))
            if technique == "unregularized":
                val, test = _errors(result, small, i, early_stopped=True)
                rows.append(dict(technique="early stopping", candidate=f"patience {REGIME['patience']}",
                                 seed=int(cfg["seed"]), val_error=float(val), test_error=float(test)))
    return rows


def _scores_config(runs) -> dict:
    # What a score table depends on beyond what every cache key holds (training code, which
    # includes evaluate; training and validation tensors; device; torch): the scored weights,
    # the test tensors and the scoring code here.
    from .cache import tensors_digest
    from .fileio import PACKAGE, code_hash

    small = runs["unregularized"][0]
    weights = {}
    for technique, (_, result) in runs.items():
        states = list(result.states) + list(result.early_states or [])
        weights[technique] = tensors_digest(t for state in states for t in state.values())
    test = tensors_digest([small.X_test, small.y_test])
    return {"weights": weights, "test": test, "scoring": code_hash(PACKAGE, ("recipes.py",))}


# Small clean data for the chapters' illustrations (a rate or decay curve, a stopping point):
# few rows, so the network overfits strongly and a run costs about one full-data epoch.
SUBSET_ROWS = 2_000  # training rows, a fixed random draw (seed 0) from the 48,000
SUBSET_VAL_ROWS = 2_000  # validation rows checked after each epoch
SUBSET_FIT = dict(
    epochs=20,  # 20 x 16 = 320 Adam steps
    batch_size=128,
    lr=1e-3,
    optimizer="adam",
    lr_schedule="cosine",
)


def subset_data(data):
    """``SUBSET_ROWS`` training rows (subset seed 0) and the first ``SUBSET_VAL_ROWS`` validation
    rows of ``data``; test set unchanged."""
    _check_mnist(data)
    return data.subset(SUBSET_ROWS, seed=0, n_val=SUBSET_VAL_ROWS)


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


def indices(result, label: str) -> list[int]:
    """Positions of the configurations of a sweep result whose ``label`` is ``label``.

    Raises
    ------
    ValueError
        If ``result`` has no list of ``configs``, or no configuration has that label (the
        message lists the labels there are).
    """
    configs = getattr(result, "configs", None)
    if not isinstance(configs, (list, tuple)):
        raise ValueError(f"result must be a sweep result (with a list of configs), got {type(result).__name__}")
    labels = list(dict.fromkeys(c.get("label") for c in configs))
    check_options("label", label, labels)
    return [i for i, c in enumerate(configs) if c.get("label") == label]
