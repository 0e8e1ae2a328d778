"""fit() and History, checked against hand-written loops on torch.optim (the answer key)."""

import json
import math
from dataclasses import replace

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


def reference_fit(model, data, *, epochs, batch_size, make_opt, seed=0, penalty=0.0, penalized=None, lr=None,
                  schedule=None, record=None):
    """Plain loop written from fit's documented contract: randperm batches, mean CE (+ λ/2‖w‖²).

    ``penalized(name)`` picks the parameters the penalty covers (default: all). ``record``, a
    list, receives per epoch the training loss and accuracy History documents: the running
    mean over the epoch's rows of each batch's pre-step loss and of its correct predictions.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = make_opt(model.parameters())
    n = len(data.y_train)
    total = epochs * math.ceil(n / batch_size)
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * (1 + math.cos(math.pi * step / total)) / 2
            logits = model(data.X_train[idx])
            loss = F.cross_entropy(logits, data.y_train[idx])
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == data.y_train[idx]).sum())
            if penalty:
                named = [p for name, p in model.named_parameters() if penalized is None or penalized(name)]
                loss = loss + penalty / 2 * sum((p**2).sum() for p in named)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if record is not None:
            record.append((loss_sum / n, correct / n))
    return model


def assert_same_weights(a, b, atol=1e-5):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=atol, msg=k)


@pytest.mark.parametrize("schedule", [None, "cosine"])
def test_sgd_batches_follow_the_documented_randperm(data, schedule):
    ours = MLP(hidden=HIDDEN, seed=0)
    h = ru.fit(ours, data, epochs=2, lr=0.05, batch_size=60, optimizer="sgd", seed=4, lr_schedule=schedule, progress=False)
    record = []
    ref = reference_fit(
        MLP(hidden=HIDDEN, seed=0), data, epochs=2, batch_size=60, seed=4, lr=0.05, schedule=schedule,
        make_opt=lambda ps: torch.optim.SGD(ps, lr=0.05), record=record,
    )
    assert_same_weights(ours, ref)
    # the training numbers are the running means over rows (512 rows, batches of 60: the
    # last batch has 32 rows, so a mean over batches would differ)
    assert h.train_loss == pytest.approx([loss for loss, _ in record], rel=1e-5)
    assert h.train_acc == pytest.approx([acc for _, acc in record], abs=1 / 512)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_default_weight_decay_leaves_the_biases_alone(data, optimizer):
    """decay_biases=False (the default) decays the weight matrices only."""
    lam = 0.05 if optimizer == "sgd" else 0.5
    lr = 0.05 if optimizer == "sgd" else 1e-3
    ours = MLP(hidden=HIDDEN, seed=1)
    ru.fit(ours, data, epochs=2, lr=lr, batch_size=64, optimizer=optimizer, weight_decay=lam, progress=False)
    ref_model = MLP(hidden=HIDDEN, seed=1)
    weights = [p for name, p in ref_model.named_parameters() if name.endswith(".weight")]
    biases = [p for name, p in ref_model.named_parameters() if name.endswith(".bias")]
    if optimizer == "sgd":  # the penalty λ/2 Σ‖W‖² over the weight matrices, written out
        ref = reference_fit(ref_model, data, epochs=2, batch_size=64, penalty=lam,
                            penalized=lambda name: name.endswith(".weight"),
                            make_opt=lambda ps: torch.optim.SGD(ps, lr=lr))
    else:
        groups = [{"params": weights}, {"params": biases, "weight_decay": 0.0}]
        ref = reference_fit(ref_model, data, epochs=2, batch_size=64,
                            make_opt=lambda ps: torch.optim.AdamW(groups, lr=lr, weight_decay=lam))
    assert_same_weights(ours, ref)
    # and the biases would have come out elsewhere had they decayed
    everything = MLP(hidden=HIDDEN, seed=1)
    ru.fit(everything, data, epochs=2, lr=lr, batch_size=64, optimizer=optimizer, weight_decay=lam, decay_biases=True,
           progress=False)
    moved = [(a - b).abs().max().item() for a, b in zip(everything.state_dict().values(), ours.state_dict().values())]
    assert max(moved) > 1e-4  # 6e-3 (SGD) and 1e-3 (AdamW) here


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
        ({"epochs": 0}, "^epochs must be an integer >= 1, got 0$"),
        ({"epochs": 2.5}, r"^epochs must be an integer >= 1, got 2\.5$"),
        ({"batch_size": 0}, "^batch_size must be an integer >= 1, got 0$"),
        ({"patience": 0}, "^patience must be an integer >= 1 or None, got 0$"),
        ({"lr": 0.0}, r"^lr must be a finite number > 0, got 0\.0$"),
        ({"lr": -1e-3}, r"^lr must be a finite number > 0, got -0\.001$"),
        ({"lr": math.nan}, "^lr must be a finite number > 0, got nan$"),
        ({"weight_decay": -1e-4}, r"^weight_decay must be a finite number >= 0, got -0\.0001$"),
        ({"min_delta": -0.1}, r"^min_delta must be a finite number >= 0, got -0\.1$"),
        ({"optimizer": "rmsprop"}, "^optimizer must be one of 'adam', 'adamw', 'sgd', got 'rmsprop'$"),
        ({"lr_schedule": "step"}, "^lr_schedule must be one of None, 'cosine', got 'step'$"),
        ({"seed": 1.5}, r"^seed must be an integer, got 1\.5$"),
        ({"decoupled": 1}, "^decoupled must be True or False, got 1$"),
        ({"decay_biases": "no"}, "^decay_biases must be True or False, got 'no'$"),
        ({"restore_best": None}, "^restore_best must be True or False, got None$"),
        ({"progress": "yes"}, "^progress must be True or False, got 'yes'$"),
        ({"precision": "fp16"}, "^precision must be one of 'auto', 'fp32', 'bf16', got 'fp16'$"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(data, kwargs, match):
    args = {"epochs": 1, "lr": 1e-3, "batch_size": 64, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        ru.fit(MLP(hidden=HIDDEN), data, **args)


def _bad_data(data, **changes):
    return replace(data, **{k: f(getattr(data, k)) for k, f in changes.items()})


def _nan_at_row_5(X):
    X = X.clone()
    X[5, 3] = math.nan
    return X


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"X_train": lambda X: X[:0], "y_train": lambda y: y[:0]}, "^data.y_train is empty$"),
        ({"X_train": lambda X: X[:10]},
         r"^data.X_train must be \[rows, features\] with one row per label; got shape \(10, 784\) for 512 labels$"),
        ({"X_val": lambda X: X.view(-1, 28, 28)}, r"^data.X_val must be \[rows, features\] .*got shape \(256, 28, 28\)"),
        ({"X_val": lambda X: X[:, :100]}, "^data.X_val has 100 features per row but the model expects input_dim=784$"),
        ({"X_train": _nan_at_row_5}, r"^data.X_train holds NaN or infinite values \(first bad row: 5\)$"),
        ({"y_val": lambda y: y.float()}, "^data.y_val must hold integer class labels, got dtype torch.float32$"),
        ({"y_train": lambda y: y + 5},
         r"^data.y_train holds labels in \[5, 14\] but the model has out_dim=10 outputs \(labels must be in \[0, 10\)\)$"),
        ({"y_val": lambda y: y - 1}, r"^data.y_val holds labels in \[-1, 8\] but the model has out_dim=10 outputs"),
    ],
)
def test_bad_data_raises_naming_the_tensor(data, changes, match):
    with pytest.raises(ValueError, match=match):
        ru.fit(MLP(hidden=HIDDEN), _bad_data(data, **changes), epochs=1, lr=1e-3, batch_size=64, progress=False)


def test_not_data_or_not_a_model_raises(data):
    with pytest.raises(ValueError, match="^data must be an MNISTData-like object with tensors X_train and y_train, got object$"):
        ru.fit(MLP(hidden=HIDDEN), object(), epochs=1, lr=1e-3, batch_size=64)
    with pytest.raises(ValueError, match="^model must be a torch.nn.Module, got str$"):
        ru.fit("mlp", data, epochs=1, lr=1e-3, batch_size=64)


# -- schedule and progress ----------------------------------------------------------------------


def test_cosine_factor_closed_form():
    assert lr_factor(None, 7, 10) == 1.0
    assert lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 10, 10) == pytest.approx(0.0, abs=1e-15)
    # off the end points and the middle a linear decay would give 0.8 and 0.2
    assert lr_factor("cosine", 2, 10) == pytest.approx((1 + math.cos(math.pi / 5)) / 2, rel=1e-12)  # 0.9045
    assert lr_factor("cosine", 8, 10) == pytest.approx((1 - math.cos(math.pi / 5)) / 2, rel=1e-12)  # 0.0955


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


def test_parameter_groups_are_the_decay_policy_of_fit():
    model = MLP(hidden=HIDDEN, seed=0)
    weights = {id(p) for name, p in model.named_parameters() if name.endswith("weight")}
    biases = {id(p) for name, p in model.named_parameters() if name.endswith("bias")}
    groups = ru.parameter_groups(model, 1e-3)
    assert [({id(p) for p in g["params"]}, g["weight_decay"]) for g in groups] == [(weights, 1e-3), (biases, 0.0)]
    every = ru.parameter_groups(model, 1e-3, decay_biases=True)
    assert len(every) == 1 and {id(p) for p in every[0]["params"]} == weights | biases
    # the optimizer fit builds has exactly these groups
    opt = ru.training._make_optimizer(
        model, dict(decay_biases=False, lr=0.1, weight_decay=1e-3, optimizer="adam", decoupled=True)
    )
    assert isinstance(opt, torch.optim.AdamW)
    assert [({id(p) for p in g["params"]}, g["weight_decay"]) for g in opt.param_groups] == [
        (weights, 1e-3), (biases, 0.0)
    ]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: ru.parameter_groups("net", 0.1), r"^model must be a torch.nn.Module, got str$"),
        (lambda m: ru.parameter_groups(m, -0.1), r"^weight_decay must be a finite number >= 0, got -0.1$"),
        (lambda m: ru.parameter_groups(m, 0.1, decay_biases=1), r"^decay_biases must be True or False, got 1$"),
        (lambda m: ru.parameter_groups(torch.nn.ReLU(), 0.1), r"^model \(ReLU\) has no parameters to optimize$"),
    ],
)
def test_parameter_groups_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(MLP(hidden=HIDDEN, seed=0))
