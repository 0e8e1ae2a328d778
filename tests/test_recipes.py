"""regutils.recipes: the shared run definitions and the small data helpers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from regutils import recipes
from regutils.data import MNISTData


def tiny_data(n_train=20, n_val=10, n_test=5):
    g = torch.Generator().manual_seed(0)
    return MNISTData(
        X_train=torch.randn(n_train, 784, generator=g),
        y_train=torch.arange(n_train) % 10,
        X_val=torch.randn(n_val, 784, generator=g),
        y_val=torch.arange(n_val) % 10,
        X_test=torch.randn(n_test, 784, generator=g),
        y_test=torch.arange(n_test) % 10,
        spec={"name": "tiny", "n_train": n_train, "val_size": n_val},
    )


def test_with_validation_rows_keeps_the_first_rows_and_marks_the_spec():
    data = tiny_data()
    small = recipes.with_validation_rows(data, 4)
    assert torch.equal(small.X_val, data.X_val[:4]) and torch.equal(small.y_val, data.y_val[:4])
    assert torch.equal(small.X_train, data.X_train) and torch.equal(small.X_test, data.X_test)
    assert small.spec == {**data.spec, "n_val_used": 4}
    assert data.spec.get("n_val_used") is None  # the original is untouched


@pytest.mark.parametrize("n_val", [0, 11, 2.5, True])
def test_with_validation_rows_refuses_bad_sizes(n_val):
    with pytest.raises(ValueError, match=r"n_val must be an integer in \[1, 10\]"):
        recipes.with_validation_rows(tiny_data(), n_val)


def test_indices_finds_labels_and_names_the_alternatives():
    result = SimpleNamespace(configs=[{"label": "a"}, {"label": "b"}, {"label": "a"}])
    assert recipes.indices(result, "a") == [0, 2]
    with pytest.raises(KeyError, match="no configuration labelled 'c'; labels: a, b"):
        recipes.indices(result, "c")


def test_full_data_configs_cover_the_experiments_and_the_dropout_sweep():
    configs = recipes.full_data_configs()
    labels = [c["label"] for c in configs]
    for label in ["none", "weight decay", "weight decay + dropout"]:
        assert labels.count(label) >= 2  # every experiment has at least two seeds
    # the dropout chapter's sweep: every rate with three seeds
    for p in recipes.DROPOUT_FULL_P:
        matching = [c for c in configs if c.get("p", 0.0) == p and c.get("weight_decay", 0.0) == recipes.DROPOUT_FULL_WEIGHT_DECAY]
        assert len({c["seed"] for c in matching}) >= 3, p
    # no two configurations are the same run
    keys = {tuple(sorted((k, v) for k, v in c.items() if k != "label")) for c in configs}
    assert len(keys) == len(configs)


def test_early_stopping_configs_have_two_seeds_each():
    labels = [c["label"] for c in recipes.early_stopping_configs()]
    assert labels.count("weight decay + early stopping") == 2 and labels.count("all three") == 2


def test_subset_data_sizes():
    data = tiny_data(n_train=3000, n_val=2500)
    small = recipes.subset_data(data)
    assert len(small.y_train) == recipes.SUBSET_ROWS and len(small.y_val) == recipes.SUBSET_VAL_ROWS
    assert small.spec["n_train"] == recipes.SUBSET_ROWS and small.spec["subset_seed"] == 0
