"""sweep(): K models at once must behave like K separate fits."""

import math
import sys

import pytest
import torch
import torch.nn.functional as F

import regutils as ru
from regutils.models import MLP

from _engine_fixtures import overfitting_mnist, synthetic_mnist

HIDDEN = (32, 32)
from regutils.stacked import Stack as _Stack


@pytest.fixture(scope="module")
def data():
    return synthetic_mnist()


def fit_alone(data, cfg, **kw):
    model = MLP(hidden=kw.pop("hidden", HIDDEN), seed=cfg.get("seed", 0))
    h = ru.fit(model, data, seed=cfg.get("seed", 0), lr=cfg.get("lr", 1e-3),
               weight_decay=cfg.get("weight_decay", 0.0), decoupled=cfg.get("decoupled", False),
               progress=False, **kw)
    return h, model


def assert_history_close(a, b, rtol=1e-4, atol=1e-6, acc_atol=1e-6):
    assert (a.best_epoch, a.stopped_epoch, a.stop_reason) == (b.best_epoch, b.stopped_epoch, b.stop_reason)
    for name in ("train_loss", "val_loss"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=rtol, abs=atol), name
    for name in ("train_acc", "val_acc"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=acc_atol), name


def assert_weights_close(model, ref, atol=1e-5, rtol=1e-4):
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=rtol, atol=atol, msg=k)


@pytest.mark.parametrize(
    ("optimizer", "cfg"),
    [
        ("adam", {"seed": 3}),
        ("adam", {"seed": 1, "weight_decay": 1e-2, "lr": 2e-3}),
        ("adam", {"seed": 1, "weight_decay": 0.3, "decoupled": True}),
        ("adamw", {"seed": 2, "weight_decay": 0.1}),
        ("sgd", {"seed": 0, "lr": 0.05, "weight_decay": 1e-2}),
    ],
)
def test_one_config_sweep_matches_fit(data, optimizer, cfg):
    kw = dict(epochs=3, batch_size=50, optimizer=optimizer)
    result = ru.sweep([cfg], data, hidden=HIDDEN, progress=False, **kw)
    h, model = fit_alone(data, cfg, **kw)
    assert_history_close(result.histories[0], h)
    assert_weights_close(result.model(0), model)


def test_decay_biases_is_shared_with_fit(data):
    """sweep(decay_biases=True) decays the biases as fit does (checked against torch.optim in
    test_train); the default leaves them alone, so the two runs must differ."""
    cfg = {"seed": 1, "lr": 0.05, "weight_decay": 0.05}
    kw = dict(epochs=2, batch_size=64, optimizer="sgd")
    decayed = ru.sweep([cfg], data, hidden=HIDDEN, decay_biases=True, progress=False, **kw)
    h, model = fit_alone(data, cfg, decay_biases=True, **kw)
    assert_history_close(decayed.histories[0], h)
    assert_weights_close(decayed.model(0), model)
    default = ru.sweep([cfg], data, hidden=HIDDEN, progress=False, **kw)
    bias = "layers.1.bias"
    assert (default.states[0][bias] - decayed.states[0][bias]).abs().max() > 1e-3


def test_sweep_matches_fit_with_cosine_schedule_and_distinct_seeds(data):
    kw = dict(epochs=2, batch_size=64, lr_schedule="cosine")
    configs = [{"seed": 0, "lr": 3e-3}, {"seed": 7, "lr": 1e-3}]
    result = ru.sweep(configs, data, hidden=HIDDEN, progress=False, **kw)
    for cfg, h_sweep, i in zip(configs, result.histories, range(2)):
        h, model = fit_alone(data, cfg, **kw)
        assert_history_close(h_sweep, h)
        assert_weights_close(result.model(i), model)


def test_per_model_early_stopping_matches_fit():
    noisy = overfitting_mnist()
    kw = dict(epochs=30, batch_size=32, patience=2, hidden=(64, 64))
    configs = [{"lr": 3e-3}, {"lr": 1e-3}, {"lr": 3e-3, "weight_decay": 1e-3}]
    result = ru.sweep(configs, noisy, progress=False, **kw)
    stops = {h.stopped_epoch for h in result.histories}
    assert len(stops) > 1, "the models should stop at different epochs"
    for i, cfg in enumerate(configs):
        h, model = fit_alone(noisy, cfg, **kw)
        assert h.stop_reason == "early_stopping"
        # same epochs and decisions exactly; numbers within float noise, which grows while the
        # networks memorize noisy labels (training loss ~0.003 by the end): on a CPU the
        # losses agree to 1e-6 after 20 epochs and the accuracies exactly. rtol 1e-3 leaves
        # room for other kernels' summation order and still fails an Adam with beta2 0.998
        # (off by 3e-3 to 6e-3); at most one near-tied prediction of 256 may flip
        assert_history_close(result.histories[i], h, rtol=1e-3, atol=1e-5, acc_atol=1 / 256)
        assert result.histories[i].restored_best
        # the weights returned are the best epoch's: recompute their validation loss
        with torch.no_grad():
            loss = F.cross_entropy(result.model(i)(noisy.X_val), noisy.y_val).item()
        assert loss == pytest.approx(result.histories[i].best_val_loss, rel=1e-5)


def test_changing_one_model_leaves_the_other_bit_identical(data):
    a = {"seed": 4, "p": 0.3, "lr": 1e-3}
    runs = [
        ru.sweep([a, b], data, epochs=2, batch_size=64, hidden=HIDDEN, progress=False)
        for b in (
            {"seed": 4, "p": 0.0, "lr": 1e-3},
            {"seed": 4, "p": 0.5, "input_p": 0.2, "lr": 5e-3, "weight_decay": 0.1, "decoupled": True},
        )
    ]
    h1, h2 = runs[0].histories[0], runs[1].histories[0]
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss
    for k, v in runs[0].states[0].items():
        assert torch.equal(v, runs[1].states[0][k]), k
    assert runs[0].histories[1].train_loss != runs[1].histories[1].train_loss


def test_dropout_sweep_agrees_with_fit_in_distribution(data):
    seeds = range(4)
    kw = dict(epochs=2, batch_size=64)
    result = ru.sweep([{"seed": s, "p": 0.5} for s in seeds], data, hidden=HIDDEN, progress=False, **kw)
    fits = []
    for s in seeds:
        model = MLP(hidden=HIDDEN, p=0.5, seed=s)
        fits.append(ru.fit(model, data, seed=s, lr=1e-3, progress=False, **kw).val_loss[-1])
    sweeps = [h.val_loss[-1] for h in result.histories]
    assert sweeps != fits  # different mask streams ...
    fits_t, sweeps_t = torch.tensor(fits), torch.tensor(sweeps)
    # ... same distribution: the means differ by less than three standard errors of their
    # difference (here 0.003 against 0.025; p = 0.4 or 0.6 in place of 0.5 moves the mean
    # by 0.04)
    se = math.sqrt(fits_t.var().item() / 4 + sweeps_t.var().item() / 4)
    assert abs(fits_t.mean().item() - sweeps_t.mean().item()) < 3 * se
    # and dropout mattered: without it the same seeds land elsewhere
    plain = ru.sweep([{"seed": s} for s in seeds], data, hidden=HIDDEN, progress=False, **kw)
    assert [h.val_loss[-1] for h in plain.histories] != sweeps


def test_stack_masks_are_inverted_dropout():
    base = {"lr": 1e-3, "weight_decay": 0.0, "decoupled": False}
    configs = [
        {**base, "seed": 0, "p": [0.5, 0.0], "input_p": 0.0},
        {**base, "seed": 1, "p": [0.2, 0.8], "input_p": 0.1},
        {**base, "seed": 2, "p": [0.0, 0.0], "input_p": 0.0},
    ]
    widths = (300, 400, 500, 10)
    stack = _Stack(configs, widths, torch.device("cpu"))
    masks = stack.masks(2000, widths[:-1])
    expected = {(0, 1): 0.5, (1, 0): 0.1, (1, 1): 0.2, (1, 2): 0.8}
    for site, mask in enumerate(masks):
        for k in range(3):
            p = expected.get((k, site), 0.0)
            m = mask[k] if mask is not None else torch.ones(1)
            kept = m[m != 0]
            torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
            frac = (m == 0).float().mean().item()
            assert abs(frac - p) < 5 * math.sqrt(max(p * (1 - p), 1e-12) / m.numel()) + 1e-9


def test_chunking_by_memory_budget_gives_the_same_results(data):
    configs = [{"seed": 0, "lr": lr} for lr in (1e-3, 2e-3, 3e-3)]
    kw = dict(epochs=2, batch_size=64, hidden=HIDDEN, progress=False)
    whole = ru.sweep(configs, data, **kw)
    chunked = ru.sweep(configs, data, max_memory_bytes=1, **kw)
    assert whole.chunks == [3] and chunked.chunks == [1, 1, 1]
    for a, b in zip(whole.histories, chunked.histories):
        assert_history_close(a, b, rtol=1e-5)
    for i in range(3):
        assert_weights_close(chunked.model(i), whole.model(i), atol=1e-6)


def test_nonfinite_raise_or_stop(data):
    configs = [{"lr": 1e-3}, {"lr": 1e20}]
    kw = dict(epochs=2, batch_size=64, hidden=HIDDEN, optimizer="sgd", progress=False)
    with pytest.raises(FloatingPointError, match=r"configs\[1\].*at epoch 1\b"):
        ru.sweep(configs, data, **kw)
    result = ru.sweep(configs, data, on_nonfinite="stop", **kw)
    good, bad = result.histories
    assert good.stop_reason == "completed" and good.stopped_epoch == 2
    assert bad.stop_reason == "diverged" and bad.stopped_epoch == 1 and bad.train_loss == []


def test_diverged_model_while_early_stopping_watches(data, tmp_path, monkeypatch):
    # a model that diverges before early stopping fires still has early-stopped weights
    # (the same as its final ones), so model(..., early_stopped=True) works and the result
    # is cached and read back without a warning
    monkeypatch.setenv("REGUTILS_CACHE_DIR", str(tmp_path / "cache"))
    configs = [{"lr": 1e-3}, {"lr": 1e20}]
    kw = dict(epochs=3, batch_size=64, hidden=HIDDEN, optimizer="sgd", patience=1,
              stop_early=False, on_nonfinite="stop", progress=False, cache=True)
    result = ru.sweep(configs, data, **kw)
    bad = result.histories[1]
    assert bad.stop_reason == "diverged" and bad.best_epoch == 0
    assert result.early_states[1] is result.states[1]
    assert bad.early_stop_best_epoch == 0
    result.model(1, early_stopped=True)  # loads; its weights are the diverged ones
    again = ru.sweep(configs, data, **kw)  # warnings are errors in the tests
    assert again.cached
    for a, b in zip(result.model(0, early_stopped=True).parameters(),
                    again.model(0, early_stopped=True).parameters()):
        assert torch.equal(a.cpu(), b.cpu())


def test_result_model_and_summary(data):
    result = ru.sweep([{"p": 0.2, "label": "a"}, {"weight_decay": 1e-3, "label": "b"}], data, epochs=1,
                      batch_size=64, hidden=HIDDEN, progress=False)
    assert len(result) == 2
    net = result.model(0)
    assert isinstance(net, MLP) and net.p == (0.2, 0.2) and not net.training
    with torch.no_grad():
        loss = F.cross_entropy(net(data.X_val), data.y_val).item()
    assert loss == pytest.approx(result.histories[0].val_loss[-1], rel=1e-5)
    table = result.summary()
    assert list(table["label"]) == ["a", "b"] and len(table) == 2
    assert table["best_val_loss"].tolist() == [h.best_val_loss for h in result.histories]
    # one epoch: the best epoch is the last, so its accuracy is that of the returned network
    with torch.no_grad():
        acc = (net(data.X_val).argmax(1) == data.y_val).float().mean().item()
    assert table["best_val_acc"][0] == pytest.approx(acc, abs=1e-12)
    assert table["final_val_loss"][0] == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize(
    ("configs", "kwargs", "match"),
    [
        ([], {}, "^configs must be a non-empty list of dicts$"),
        ({"lr": 1e-3}, {}, "^configs must be a non-empty list of dicts$"),
        ([{"lr": 1e-3}, "x"], {}, r"^configs\[1\] must be a dict, got str$"),
        ([{"dropout": 0.5}], {}, r"^configs\[0\] has unknown key\(s\) \['dropout'\]; allowed: lr, p, input_p"),
        ([{"p": 1.0}], {}, r"^configs\[0\]\['p'\] must be a finite number in \[0, 1\), got 1.0$"),
        ([{"p": [0.1]}], {}, r"^configs\[0\]\['p'\] needs one probability per hidden layer \(2\)$"),
        ([{"input_p": 1.0}], {}, r"^configs\[0\]\['input_p'\] must be a finite number in \[0, 1\), got 1.0$"),
        ([{"lr": 0}], {}, r"^configs\[0\]\['lr'\] must be a finite number > 0, got 0$"),
        ([{"weight_decay": -1.0}], {}, r"^configs\[0\]\['weight_decay'\] must be a finite number >= 0, got -1.0$"),
        ([{"seed": "a"}], {}, r"^configs\[0\]\['seed'\] must be an integer, got 'a'$"),
        ([{"decoupled": "yes"}], {}, r"^configs\[0\]\['decoupled'\] must be True or False, got 'yes'$"),
        ([{}], {"hidden": ()}, r"^hidden must be a non-empty sequence of widths, got \(\)$"),
        ([{}], {"hidden": 8}, "^hidden must be a non-empty sequence of widths, got 8$"),
        ([{}], {"hidden": (8, 0)}, "^each width in hidden must be an integer >= 1, got 0$"),
        ([{}], {"epochs": 0}, "^epochs must be an integer >= 1, got 0$"),
        ([{}], {"patience": 0}, "^patience must be an integer >= 1 or None, got 0$"),
        ([{}], {"batch_size": 0}, "^batch_size must be an integer >= 1, got 0$"),
        ([{}], {"min_delta": -1.0}, "^min_delta must be a finite number >= 0, got -1.0$"),
        ([{}], {"optimizer": "lbfgs"}, "^optimizer must be one of 'adam', 'adamw', 'sgd', got 'lbfgs'$"),
        ([{}], {"lr_schedule": "step"}, "^lr_schedule must be one of None, 'cosine', got 'step'$"),
        ([{}], {"on_nonfinite": "ignore"}, "^on_nonfinite must be one of 'raise', 'stop', got 'ignore'$"),
        ([{}], {"max_memory_bytes": 0}, "^max_memory_bytes must be an integer >= 1 or None, got 0$"),
        ([{}], {"out_dim": 0}, "^out_dim must be an integer >= 1, got 0$"),
        ([{}], {"out_dim": 3}, r"^data.y_train holds labels in \[0, 9\] but the model has out_dim=3 outputs"),
        ([{}], {"p": 1.5}, r"^configs\[0\]\['p'\] must be a finite number in \[0, 1\), got 1.5$"),
        ([{}], {"stop_early": 0}, "^stop_early must be True or False, got 0$"),
        ([{}], {"decay_biases": "no"}, "^decay_biases must be True or False, got 'no'$"),
        ([{}], {"precision": "fp16"}, "^precision must be one of 'auto', 'fp32', 'bf16', got 'fp16'$"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(data, configs, kwargs, match):
    args = {"epochs": 1, "batch_size": 64, "hidden": HIDDEN, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        ru.sweep(configs, data, **args)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_stacked_update_matches_torch_optim_per_model(optimizer):
    """The [K, 1, 1]-tensor update (the GPU path) against torch.optim, one optimizer per model."""
    from regutils.stacked import update
    lrs, wds, decoupled = [1e-3, 3e-2, 1e-2], [0.0, 0.1, 0.5], [False, False, True]
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(3, 5, 4, generator=gen)
    grads = [torch.randn(3, 5, 4, generator=gen) for _ in range(3)]
    refs = [torch.nn.Parameter(p[k].clone()) for k in range(3)]
    opts = []
    for k, ref in enumerate(refs):
        if optimizer == "sgd":
            opts.append(torch.optim.SGD([ref], lr=lrs[k], weight_decay=wds[k]))
        elif decoupled[k]:
            opts.append(torch.optim.AdamW([ref], lr=lrs[k], weight_decay=wds[k]))
        else:
            opts.append(torch.optim.Adam([ref], lr=lrs[k], weight_decay=wds[k]))
    col = lambda v: torch.tensor(v, dtype=torch.float32).view(-1, 1, 1)  # noqa: E731
    dec = col([float(d) for d in decoupled])
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        update(optimizer, p, g, m, v, t, col(lrs), col(wds) * (1 - dec), col(wds) * dec)
        for k, (ref, opt) in enumerate(zip(refs, opts)):
            ref.grad = g[k].clone()
            opt.step()
    for k, ref in enumerate(refs):
        torch.testing.assert_close(p[k], ref.detach(), rtol=1e-5, atol=1e-7)


def test_watching_early_stopping_gives_what_stopping_gives(data):
    """One run with stop_early=False yields the weights a stopped run returns, and the final ones."""
    common = dict(hidden=(16,), epochs=6, batch_size=64, lr=5e-2, patience=1, progress=False, precision="fp32")
    configs = [dict(seed=0), dict(seed=1, p=0.2)]
    stopped = ru.sweep(configs, data, **common)
    watched = ru.sweep(configs, data, **common, stop_early=False)
    full = ru.sweep(configs, data, **{**common, "patience": None})
    for i, h in enumerate(stopped.histories):
        w = watched.histories[i]
        assert w.stopped_epoch == 6 and w.val_loss == full.histories[i].val_loss
        if h.stop_reason == "early_stopping":
            assert w.early_stop_epoch == h.stopped_epoch
        else:  # never fired: no stopping epoch, and the best epoch's weights are kept aside
            assert w.early_stop_epoch is None
        assert w.early_stop_best_epoch == h.best_epoch
        for k, v in stopped.states[i].items():
            torch.testing.assert_close(watched.early_states[i][k], v)
            torch.testing.assert_close(watched.states[i][k], full.states[i][k])
    assert any(h.stop_reason == "early_stopping" for h in stopped.histories)


def test_early_stopped_model_needs_a_watching_run(data):
    r = ru.sweep([dict(seed=0)], data, hidden=(8,), epochs=1, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="early_stopped=True needs a sweep run with patience and stop_early=False"):
        r.model(0, early_stopped=True)
    with pytest.raises(ValueError, match="^early_stopped must be True or False, got 'yes'$"):
        r.model(0, early_stopped="yes")
    with pytest.raises(ValueError, match=r"^i must be an integer in \[0, 0\], got 1$"):
        r.model(1)
