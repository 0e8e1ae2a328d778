"""evaluate(): metrics recomputed independently with numpy and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

import regutils as ru
from regutils.models import MLP

from _engine_fixtures import synthetic_mnist


@pytest.fixture(scope="module")
def trained():
    data = synthetic_mnist(n_test=300, signal=0.2)
    model = MLP(hidden=(32,), p=0.5, seed=0)
    ru.fit(model, data, epochs=2, lr=1e-3, batch_size=64, progress=False)
    return model, data


def test_metrics_match_numpy_and_sklearn(trained):
    model, data = trained
    W1, b1 = model.layers[0].weight.detach().numpy(), model.layers[0].bias.detach().numpy()
    W2, b2 = model.layers[1].weight.detach().numpy(), model.layers[1].bias.detach().numpy()
    X, y = data.X_test.numpy().astype(np.float64), data.y_test.numpy()
    logits = np.maximum(X @ W1.T + b1, 0) @ W2.T + b2  # dropout off: evaluation mode
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    y_hat = logits.argmax(1)

    model.train()  # evaluate switches dropout (p=0.5 here) off itself ...
    m = ru.evaluate(model, data)
    assert model.training  # ... and hands the model back in the mode it came in
    model.eval()
    ru.evaluate(model, data)
    assert not model.training
    assert m["loss"] == pytest.approx(-log_probs[np.arange(len(y)), y].mean(), rel=1e-5)
    assert m["accuracy"] == pytest.approx((y_hat == y).mean())
    assert m["error"] == pytest.approx(1 - (y_hat == y).mean())
    assert 0.2 < m["accuracy"] < 1.0, "a fixture where some predictions are wrong"
    assert m["f1_weighted"] == pytest.approx(f1_score(y, y_hat, average="weighted"))
    assert m["f1_macro"] == pytest.approx(f1_score(y, y_hat, average="macro"))
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (y, y_hat), 1)
    assert isinstance(m["confusion"], np.ndarray)
    np.testing.assert_array_equal(m["confusion"], expected)
    assert m["n"] == len(y)


def test_splits_batching_and_mode_restored(trained):
    model, data = trained
    model.train()
    a = ru.evaluate(model, data, "val")
    b = ru.evaluate(model, data, "val", batch_size=7)
    assert model.training, "the caller's mode is restored"
    assert a["accuracy"] == b["accuracy"] and a["loss"] == pytest.approx(b["loss"], rel=1e-6)
    assert a["n"] == len(data.y_val)
    assert ru.evaluate(model, data, "train")["n"] == len(data.y_train)


def test_evaluate_does_not_build_a_graph(trained):
    model, data = trained
    predict = __import__("sys").modules[ru.evaluate.__module__].predict
    assert not predict(model, data.X_test).requires_grad


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "dev"}, "^split must be one of 'train', 'val', 'test', got 'dev'$"),
        ({"batch_size": 0}, "^batch_size must be an integer >= 1, got 0$"),
        ({"batch_size": 2.0}, r"^batch_size must be an integer >= 1, got 2\.0$"),
    ],
)
def test_bad_arguments(trained, kwargs, match):
    model, data = trained
    with pytest.raises(ValueError, match=match):
        ru.evaluate(model, data, **kwargs)


def _with(data, **changes):
    """A shallow copy of ``data`` whose tensors ``changes`` maps to functions of the old ones."""
    import copy

    out = copy.copy(data)
    for name, change in changes.items():
        object.__setattr__(out, name, change(getattr(data, name)))
    return out


@pytest.mark.parametrize(
    ("changes", "split", "match"),
    [
        ({"X_test": lambda X: X[:, :700]}, "test",
         "^data.X_test has 700 features per row but the model expects input_dim=784$"),
        ({"y_val": lambda y: y + 3}, "val",
         r"^data.y_val holds labels in \[3, 12\] but the model has out_dim=10 outputs \(labels must be in \[0, 10\)\)$"),
        ({"X_train": lambda X: X.clone().index_fill_(0, __import__("torch").tensor([4]), float("nan"))}, "train",
         r"^data.X_train holds NaN or infinite values \(first bad row: 4\)$"),
        ({"y_test": lambda y: y.float()}, "test", "^data.y_test must hold integer class labels, got dtype torch.float32$"),
        ({"y_test": lambda y: y[:10]}, "test", r"^data.X_test must be \[rows, features\] with one row per label"),
    ],
)
def test_a_bad_split_is_named_before_the_model_runs(trained, changes, split, match):
    model, data = trained
    with pytest.raises(ValueError, match=match):
        ru.evaluate(model, _with(data, **changes), split)


def test_evaluate_and_predict_name_what_is_not_a_model_or_not_data(trained):
    model, data = trained
    with pytest.raises(ValueError, match="^model must be a torch.nn.Module, got str$"):
        ru.evaluate("mlp", data)
    with pytest.raises(ValueError, match="^data must be an MNISTData-like object with tensors X_test and y_test, got NoneType$"):
        ru.evaluate(model, None)
    with pytest.raises(ValueError, match="^model must be a torch.nn.Module, got NoneType$"):
        ru.predict(None, data.X_test)
    with pytest.raises(ValueError, match=r"^X must be a 2-D torch tensor \[rows, features\], got ndarray$"):
        ru.predict(model, data.X_test.numpy())
    with pytest.raises(ValueError, match=r"^X must be a 2-D torch tensor \[rows, features\], got \(784,\)$"):
        ru.predict(model, data.X_test[0])
    with pytest.raises(ValueError, match="^X has 700 features per row but the model expects input_dim=784$"):
        ru.predict(model, data.X_test[:, :700])
