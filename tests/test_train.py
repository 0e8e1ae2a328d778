"""fit() and History, checked against hand-written loops on torch.optim (the answer key)."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

import regutils as ru
from regutils.models import MLP
from regutils.training import History, lr_factor, progress_enabled

from _engine_fixtures import overfitting_mnist, synthetic_mnist

HIDDEN = (32, 32)


@pytest.fixture(scope="module")
def data():
    return synthetic_mnist()


def reference_fit(model, data, *, epochs, batch_size, make_opt, seed=0, penalty=0.0, lr=None, schedule=None):
    """Plain loop written from fit's documented contract: randperm batches, mean CE (+ λ/2‖w‖²)."""
    gen = torch.Generator().manual_seed(seed)
    opt = make_opt(model.parameters())
    n = len(data.y_train)
    total = epochs * math.ceil(n / batch_size)
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * (1 + math.cos(math.pi * step / total)) / 2
            loss = F.cross_entropy(model(data.X_train[idx]), data.y_train[idx])
            if penalty:
                loss = loss + penalty / 2 * sum((p**2).sum() for p in model.parameters())
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    return model


def assert_same_weights(a, b, atol=1e-5):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=atol, msg=k)


@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_sgd_batches_follow_the_documented_randperm(data, schedule):
    ours = MLP(hidden=HIDDEN, seed=0)
    ru.fit(ours, data, epochs=2, lr=0.05, batch_size=60, optimizer="sgd", seed=4, lr_schedule=schedule, progress=False)
    ref = reference_fit(
        MLP(hidden=HIDDEN, seed=0), data, epochs=2, batch_size=60, seed=4, lr=0.05, schedule=schedule,
        make_opt=lambda ps: torch.optim.SGD(ps, lr=0.05),
    )
    assert_same_weights(ours, ref)


def test_sgd_weight_decay_is_the_l2_penalty(data):
    lam = 0.05
    ours = MLP(hidden=HIDDEN, seed=1)
    ru.fit(ours, data, epochs=2, lr=0.05, batch_size=64, optimizer="sgd", weight_decay=lam, decay_biases=True, progress=False)
    ref = reference_fit(MLP(hidden=HIDDEN, seed=1), data, epochs=2, batch_size=64, penalty=lam,
                        make_opt=lambda ps: torch.optim.SGD(ps, lr=0.05))
    assert_same_weights(ours, ref)
    # and decoupled=True changes nothing for plain SGD
    again = MLP(hidden=HIDDEN, seed=1)
    ru.fit(again, data, epochs=2, lr=0.05, batch_size=64, optimizer="sgd", weight_decay=lam, decay_biases=True, decoupled=True,
           progress=False)
    assert_same_weights(again, ref)


def test_coupled_adam_minimizes_the_l2_penalized_loss(data):
    lam = 1e-2
    ours = MLP(hidden=HIDDEN, seed=2)
    ru.fit(ours, data, epochs=2, lr=1e-3, batch_size=64, optimizer="adam", weight_decay=lam, decay_biases=True, progress=False)
    ref = reference_fit(MLP(hidden=HIDDEN, seed=2), data, epochs=2, batch_size=64, penalty=lam,
                        make_opt=lambda ps: torch.optim.Adam(ps, lr=1e-3))
    assert_same_weights(ours, ref)


def test_adamw_and_decoupled_adam_match_torch_adamw_not_adam(data):
    lam = 0.5
    ref = reference_fit(MLP(hidden=HIDDEN, seed=3), data, epochs=2, batch_size=64,
                        make_opt=lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=lam))
    for kwargs in ({"optimizer": "adamw"}, {"optimizer": "adam", "decoupled": True}):
        ours = MLP(hidden=HIDDEN, seed=3)
        h = ru.fit(ours, data, epochs=2, lr=1e-3, batch_size=64, weight_decay=lam, decay_biases=True, progress=False, **kwargs)
        assert h.config["decoupled"] is True
        assert_same_weights(ours, ref)
    coupled = reference_fit(MLP(hidden=HIDDEN, seed=3), data, epochs=2, batch_size=64,
                            make_opt=lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=lam))
    diff = max((a - b).abs().max().item() for a, b in zip(ours.state_dict().values(), coupled.state_dict().values()))
    assert diff > 1e-3


def test_history_contents_and_learning(data):
    h = ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=4, lr=1e-3, batch_size=64, progress=False)
    assert len(h.train_loss) == len(h.val_loss) == len(h.train_acc) == len(h.val_acc) == 4
    assert h.epochs == [1, 2, 3, 4]
    assert h.stopped_epoch == 4 and h.stop_reason == "completed" and not h.restored_best
    assert h.val_loss[-1] < h.val_loss[0] and h.val_acc[-1] > 0.9
    assert h.best_epoch == 1 + min(range(4), key=h.val_loss.__getitem__)
    assert h.device == "cpu" and h.wall_time_s > 0
    assert h.config["lr"] == 1e-3 and h.config["model"]["hidden"] == list(HIDDEN)


def test_history_val_numbers_match_an_independent_evaluation(data):
    model = MLP(hidden=HIDDEN, seed=0)
    h = ru.fit(model, data, epochs=2, lr=1e-3, batch_size=64, progress=False)
    with torch.no_grad():
        logits = model.eval()(data.X_val)
    assert h.val_loss[-1] == pytest.approx(F.cross_entropy(logits, data.y_val).item(), rel=1e-5)
    assert h.val_acc[-1] == pytest.approx((logits.argmax(1) == data.y_val).float().mean().item())


def test_history_round_trips_through_json(data):
    h = ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=1, lr=1e-3, batch_size=128, progress=False)
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back == h
    with pytest.raises(ValueError, match="unknown key"):
        History.from_dict({**h.to_dict(), "extra": 1})


def test_same_seed_same_numbers_other_seed_other_numbers(data):
    def run(seed):
        model = MLP(hidden=HIDDEN, seed=0, p=0.3)
        h = ru.fit(model, data, epochs=2, lr=1e-3, batch_size=64, seed=seed, progress=False)
        return h, model

    (h1, m1), (h2, m2), (h3, _) = run(5), run(5), run(6)
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert h3.train_loss != h1.train_loss


def test_fit_leaves_global_rng_untouched(data):
    state = torch.random.get_rng_state()
    ru.fit(MLP(hidden=HIDDEN, seed=0, p=0.5), data, epochs=1, lr=1e-3, batch_size=128, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)


# -- early stopping -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy():
    return overfitting_mnist()


def val_loss_of(model, data):
    with torch.no_grad():
        return F.cross_entropy(model.eval()(data.X_val), data.y_val).item()


def test_early_stopping_stops_after_patience_and_restores_best(noisy):
    model = MLP(hidden=(64, 64), seed=0)
    h = ru.fit(model, noisy, epochs=40, lr=3e-3, batch_size=32, patience=3, progress=False)
    assert h.stop_reason == "early_stopping"
    assert h.stopped_epoch == h.best_epoch + 3 < 40
    # independent check of the stopping rule on the recorded losses
    best = min(h.val_loss)
    assert h.val_loss[h.best_epoch - 1] == best
    assert all(v >= best for v in h.val_loss[h.best_epoch :])
    assert h.restored_best
    assert val_loss_of(model, noisy) == pytest.approx(best, rel=1e-5)
    assert val_loss_of(model, noisy) < h.val_loss[-1] - 1e-3


def test_early_stopping_without_restore_keeps_last_weights(noisy):
    model = MLP(hidden=(64, 64), seed=0)
    h = ru.fit(model, noisy, epochs=40, lr=3e-3, batch_size=32, patience=3, restore_best=False, progress=False)
    assert not h.restored_best
    assert val_loss_of(model, noisy) == pytest.approx(h.val_loss[-1], rel=1e-5)


def test_min_delta_larger_than_any_gain_stops_after_patience(noisy):
    h = ru.fit(MLP(hidden=(64, 64), seed=0), noisy, epochs=40, lr=3e-3, batch_size=32, patience=2,
               min_delta=10.0, progress=False)
    assert h.best_epoch == 1 and h.stopped_epoch == 3


def test_no_patience_trains_every_epoch_and_keeps_last_weights(noisy):
    model = MLP(hidden=(64, 64), seed=0)
    h = ru.fit(model, noisy, epochs=12, lr=3e-3, batch_size=32, progress=False)
    assert h.stopped_epoch == 12 and h.best_epoch < 12 and not h.restored_best
    assert val_loss_of(model, noisy) == pytest.approx(h.val_loss[-1], rel=1e-5)


# -- failure modes ------------------------------------------------------------------------------


def test_divergence_raises_naming_epoch_and_config(data):
    with pytest.raises(FloatingPointError, match=r"at epoch 1\b.*'lr': 1e\+20"):
        ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=3, lr=1e20, batch_size=64, optimizer="sgd", progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "^epochs must be an integer >= 1"),
        ({"epochs": 2.5}, "^epochs must"),
        ({"batch_size": 0}, "^batch_size must be an integer >= 1"),
        ({"patience": 0}, "^patience must be an integer >= 1"),
        ({"lr": 0.0}, r"^lr must be a finite number > 0"),
        ({"lr": -1e-3}, "^lr must"),
        ({"lr": math.nan}, "^lr must"),
        ({"weight_decay": -1e-4}, "^weight_decay must be a finite number >= 0"),
        ({"min_delta": -0.1}, "^min_delta must"),
        ({"optimizer": "rmsprop"}, "^optimizer must be one of 'adam', 'adamw', 'sgd', got 'rmsprop'"),
        ({"lr_schedule": "step"}, "^lr_schedule must"),
        ({"seed": 1.5}, "^seed must be an integer"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(data, kwargs, match):
    args = {"epochs": 1, "lr": 1e-3, "batch_size": 64, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        ru.fit(MLP(hidden=HIDDEN), data, **args)


def test_bad_data_raises(data):
    with pytest.raises(ValueError, match="X_train"):
        ru.fit(MLP(hidden=HIDDEN), object(), epochs=1, lr=1e-3, batch_size=64)


# -- schedule and progress ----------------------------------------------------------------------


def test_cosine_factor_closed_form():
    assert lr_factor(None, 7, 10) == 1.0
    assert lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 10, 10) == pytest.approx(0.0, abs=1e-15)


def test_progress_env_variable(monkeypatch):
    monkeypatch.delenv("REGUTILS_PROGRESS", raising=False)
    assert progress_enabled() is True
    for off in ("0", "false", "OFF", " no "):
        monkeypatch.setenv("REGUTILS_PROGRESS", off)
        assert progress_enabled() is False
    monkeypatch.setenv("REGUTILS_PROGRESS", "1")
    assert progress_enabled() is True
    monkeypatch.setenv("REGUTILS_PROGRESS", "0")
    assert progress_enabled(True) is True


def test_progress_bar_one_per_fit_and_silent_when_off(data, capsys, monkeypatch):
    monkeypatch.delenv("REGUTILS_PROGRESS", raising=False)
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=2, lr=1e-3, batch_size=128)
    err = capsys.readouterr().err
    assert "fit" in err and "2/2" in err and "val_loss" in err
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=2, lr=1e-3, batch_size=128, progress=False)
    monkeypatch.setenv("REGUTILS_PROGRESS", "0")
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, epochs=2, lr=1e-3, batch_size=128)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
