"""regutils.recipes: the shared run definitions and the small data helpers."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats

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


def test_subset_with_validation_rows_keeps_the_first_rows_and_marks_the_spec():
    data = tiny_data()
    small = data.subset(20, seed=0, n_val=4)
    assert torch.equal(small.X_val, data.X_val[:4]) and torch.equal(small.y_val, data.y_val[:4])
    assert torch.equal(small.X_test, data.X_test)
    assert small.spec == {**data.spec, "n_train": 20, "subset_seed": 0, "n_val_used": 4}
    assert data.spec.get("n_val_used") is None  # the original is untouched


@pytest.mark.parametrize("n_val", [0, 11, 2.5, True])
def test_subset_refuses_bad_validation_sizes(n_val):
    with pytest.raises(ValueError, match=rf"^n_val must be an integer in \[1, 10\] or None, got {n_val!r}"):
        tiny_data().subset(5, n_val=n_val)


def test_label_noise_changes_the_stated_fraction_to_wrong_classes_only():
    data = tiny_data(n_train=1000)
    noisy = data.with_label_noise(0.2, seed=3)
    changed = noisy.y_train != data.y_train
    assert int(changed.sum()) == 200
    assert torch.equal(noisy.y_val, data.y_val) and torch.equal(noisy.X_train, data.X_train)
    assert noisy.spec["label_noise"] == 0.2 and noisy.spec["noise_seed"] == 3
    assert int(noisy.y_train.min()) >= 0 and int(noisy.y_train.max()) <= 9
    # the same seed gives the same corruption; another seed another one
    assert torch.equal(data.with_label_noise(0.2, seed=3).y_train, noisy.y_train)
    assert not torch.equal(data.with_label_noise(0.2, seed=4).y_train, noisy.y_train)


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True])
def test_label_noise_refuses_bad_fractions(fraction):
    with pytest.raises(ValueError, match=r"^fraction must be a finite number in \[0, 1\]"):
        tiny_data().with_label_noise(fraction)


def test_indices_finds_labels_and_names_the_alternatives():
    result = SimpleNamespace(configs=[{"label": "a"}, {"label": "b"}, {"label": "a"}])
    assert recipes.indices(result, "a") == [0, 2]
    with pytest.raises(ValueError, match="^label must be one of 'a', 'b', got 'c'$"):
        recipes.indices(result, "c")
    with pytest.raises(ValueError, match=r"^result must be a sweep result \(with a list of configs\), got int$"):
        recipes.indices(3, "a")


def test_full_data_model_names_a_missing_seed_or_label():
    picked = []
    result = SimpleNamespace(configs=[{"label": "a", "seed": 0}, {"label": "b", "seed": 0}, {"label": "a", "seed": 1}],
                             model=lambda i, early_stopped=False: picked.append((i, early_stopped)))
    recipes.full_data_model(result, "a", 1, early_stopped=True)
    assert picked == [(2, True)]
    with pytest.raises(ValueError, match="^seed must be one of 0, 1, got 7$"):
        recipes.full_data_model(result, "a", 7)
    with pytest.raises(ValueError, match="^seed must be one of 0, 1, got '1'$"):
        recipes.full_data_model(result, "a", "1")
    with pytest.raises(ValueError, match="^label must be one of 'a', 'b', got 'c'$"):
        recipes.full_data_model(result, "c", 0)
    with pytest.raises(ValueError, match="^early_stopped must be True or False, got 'yes'$"):
        recipes.full_data_model(result, "a", 0, early_stopped="yes")


def test_full_data_scores_are_each_seeds_network_evaluated():
    import regutils as ru

    data = tiny_data()
    configs = [dict(label=label, seed=s, p=p) for label, p in (("none", 0.0), ("drop", 0.5))
               for s in recipes.SEEDS]
    result = ru.sweep(configs, data, hidden=(8,), epochs=2, batch_size=10, patience=1,
                      stop_early=False, cache=False, progress=False)
    for early in (False, True):
        scores = recipes.full_data_scores(result, data, "drop", early_stopped=early, split="val")
        # the answer key: each seed's network found by hand and scored with ru.evaluate
        expected = [ru.evaluate(result.model(i, early_stopped=early), data, "val")
                    for i, c in enumerate(configs) if c["label"] == "drop"]
        assert len(scores) == len(recipes.SEEDS)
        for metric in ("error", "loss"):
            assert [r[metric] for r in scores] == [r[metric] for r in expected]


def test_full_data_configs_pair_every_configuration_over_the_same_seeds():
    configs = recipes.full_data_configs()
    for label in recipes.FULL_LABELS:
        seeds = [c["seed"] for c in configs if c["label"] == label]
        assert seeds == list(recipes.SEEDS) and len(seeds) >= 3
    keys = {tuple(sorted((k, v) for k, v in c.items() if k != "label")) for c in configs}
    assert len(keys) == len(configs)  # no two configurations are the same run


def test_regime_configs_cover_every_candidate_with_every_seed():
    configs = recipes.regime_configs()
    labels = {c["label"] for c in configs}
    assert "none" in labels and len(recipes.REGIME["seeds"]) >= 5
    n_candidates = sum(len(v) for v in recipes.REGIME["candidates"].values())
    assert len(labels) == 1 + n_candidates
    for label in labels:
        assert [c["seed"] for c in configs if c["label"] == label] == list(recipes.REGIME["seeds"])
    by_technique = [recipes.regime_configs(t) for t in ("unregularized", *recipes.REGIME["candidates"])]
    assert sum(len(g) for g in by_technique) == len(configs)
    assert {c["label"] for c in recipes.regime_configs("unregularized")} == {"none"}
    for technique in ("lasso", ["dropout"], 3):
        with pytest.raises(ValueError, match=rf"^technique must be one of 'unregularized', 'dropout', 'weight decay' or None, got {re.escape(repr(technique))}$"):
            recipes.regime_configs(technique)


def test_run_regime_names_an_unknown_technique_before_touching_the_data():
    # tiny_data has 10 validation rows, fewer than the regime's: the technique is refused first
    with pytest.raises(ValueError, match="^technique must be one of 'unregularized', 'dropout', 'weight decay' or None, got 'lasso'$"):
        recipes.run_regime(tiny_data(), 20, "lasso")


def test_subset_data_sizes():
    data = tiny_data(n_train=3000, n_val=2500)
    small = recipes.subset_data(data)
    assert len(small.y_train) == recipes.SUBSET_ROWS and len(small.y_val) == recipes.SUBSET_VAL_ROWS
    assert small.spec["n_train"] == recipes.SUBSET_ROWS and small.spec["subset_seed"] == 0


@pytest.mark.parametrize("call", [
    lambda d: recipes.regime_data(d, 20), lambda d: recipes.run_regime(d, 20),
    lambda d: recipes.score_regime(d, 20), recipes.subset_data,
])
@pytest.mark.parametrize("data, kind", [(None, "NoneType"), ("mnist", "str")])
def test_the_data_recipes_name_data_that_is_not_mnist(call, data, kind):
    with pytest.raises(ValueError, match=rf"^data must be the MNISTData of regutils.load_mnist\(\), got {kind}$"):
        call(data)


def test_run_regime_rejects_a_constant_rate_that_is_not_a_bool():
    with pytest.raises(ValueError, match="^constant_rate must be True or False, got 'yes'"):
        recipes.run_regime(tiny_data(), 20, constant_rate="yes")


def test_weight_decay_pilots_record_the_regime_as_it_runs():
    *earlier, last = recipes.WEIGHT_DECAY_PILOTS
    assert last["lr_schedule"] == recipes.REGIME["fit"]["lr_schedule"] == "cosine"
    assert all(r["lr_schedule"] != last["lr_schedule"] for r in earlier)
    for record in recipes.WEIGHT_DECAY_PILOTS:
        assert set(record["seeds"]) <= set(recipes.REGIME["seeds"])
        assert record["n_train"] in recipes.REGIME["sizes"]
        assert record["metric"] == "validation error"
    # every candidate of the regime is of a kind the last round tried
    kinds = {t.split(" (")[0] for t in last["tried"]}
    for option in recipes.REGIME["candidates"]["weight decay"]:
        assert ("AdamW" if option.get("decoupled") else "Adam with coupled L2") in kinds
    # the earlier regime's weight-decay record: an interval around its mean
    for r in earlier:
        assert set(r["regime_result"]) == set(recipes.REGIME["sizes"])
        for result in r["regime_result"].values():
            assert result["ci_low"] <= result["delta"] <= result["ci_high"]


def test_score_regime_scores_once_then_reads_the_cache(tmp_path, monkeypatch):
    """The second chapter asking for the regime's table gets it without scoring a network;
    other weights are a miss; and the table is what scoring by hand gives."""
    import regutils as ru

    monkeypatch.setenv("REGUTILS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("REGUTILS_CACHE", raising=False)
    data = tiny_data()
    seeds = recipes.REGIME["seeds"]

    def tiny_run(data, n_train, technique="unregularized", p=0.0):
        configs = [dict(label="none" if technique == "unregularized" else technique, seed=s, p=p)
                   for s in seeds]
        return data, ru.sweep(configs, data, hidden=(8,), epochs=2, batch_size=10, patience=1,
                              stop_early=False, cache=False, progress=False)

    monkeypatch.setattr(recipes, "run_regime", tiny_run)
    first = recipes.score_regime(data, 20)
    assert len(first) == len(seeds) * (2 + len(recipes.REGIME["candidates"]))
    _, none = tiny_run(data, 20)
    by_hand = [ru.evaluate(none.model(i), data, "test")["error"] for i in range(len(seeds))]
    assert first.loc[first["technique"] == "unregularized", "test_error"].tolist() == by_hand

    def no_scoring(*args, **kwargs):
        raise AssertionError("scored a network although the table was cached")

    monkeypatch.setattr(recipes, "_errors", no_scoring)
    assert recipes.score_regime(data, 20).equals(first)
    monkeypatch.setattr(recipes, "run_regime", lambda *a, **k: tiny_run(*a, **k, p=0.5))
    with pytest.raises(AssertionError, match="scored a network although"):
        recipes.score_regime(data, 20)  # other weights: a miss, so it scores


def test_full_data_comparisons_pair_each_experiment_with_the_unregularized_network():
    import regutils as ru

    data = tiny_data()
    settings = {"none": 0.0, "weight decay": 0.0, "weight decay + dropout": 0.5}
    configs = [dict(label=label, seed=s, p=p, weight_decay=0.0 if label == "none" else 1e-2)
               for label, p in settings.items() for s in recipes.SEEDS]
    result = ru.sweep(configs, data, hidden=(8,), epochs=2, batch_size=10, patience=1,
                      stop_early=False, cache=False, progress=False)
    records = recipes.full_data_comparisons(result, data, page="p", data_label="d")
    names = [n for n in recipes.FULL_EXPERIMENTS if n != "unregularized"]
    assert [(r["a"], r["metric"]) for r in records] == [
        (n, f"test {m}") for n in names for m in ("error", "loss")]

    # the answer key: each seed's network found by hand, scored with ru.evaluate, and the
    # differences' mean and t-test p-value from scipy
    def by_hand(label, early, metric):
        return np.array([ru.evaluate(result.model(i, early_stopped=early), data)[metric]
                         for i, c in enumerate(configs) if c["label"] == label])

    for r in records:
        label, early = recipes.FULL_EXPERIMENTS[r["a"]]
        metric = r["metric"].removeprefix("test ")
        d = by_hand(label, early, metric) - by_hand("none", False, metric)
        assert r["b"] == "unregularized" and r["n_pairs"] == len(recipes.SEEDS)
        assert r["delta"] == pytest.approx(d.mean(), abs=1e-12)
        if d.std() > 0:
            assert r["p_value"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue, rel=1e-9)
