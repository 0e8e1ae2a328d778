"""MLP and from-scratch dropout, checked against torch's own layers."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import regutils as ru
from regutils.models import MLP, dropout


def reference_net(widths):
    """The same network from torch building blocks, built in the same order."""
    layers = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-2], widths[-1]))
    return nn.Sequential(*layers)


def test_original_api_builds_784_400x4_10():
    net = MLP(784, 400, 10, num_layers=5, dropout=[True, True, False, False], dropout_p=0.5)
    shapes = [tuple(layer.weight.shape) for layer in net.layers]
    assert shapes == [(400, 784), (400, 400), (400, 400), (400, 400), (10, 400)]
    assert net.p == (0.5, 0.5, 0.0, 0.0)
    assert MLP().hidden == (400, 400, 400, 400)  # defaults are the original network


def test_short_form_same_architecture_and_per_layer_p():
    net = MLP(hidden=(400, 400, 400, 400), p=0.2)
    assert net.hidden == MLP(num_layers=5).hidden
    assert net.p == (0.2,) * 4
    assert MLP(hidden=(8, 8), p=[0.1, 0.0]).p == (0.1, 0.0)


def test_forward_matches_torch_sequential_and_returns_logits():
    torch.manual_seed(3)
    ref = reference_net((20, 16, 12, 5))
    torch.manual_seed(3)
    net = MLP(20, hidden=(16, 12), out_dim=5)
    X = torch.randn(7, 20)
    logits = net(X)
    torch.testing.assert_close(logits, ref(X), rtol=0, atol=0)
    # logits, not probabilities: rows neither sum to one nor stay in [0, 1]
    assert not torch.allclose(logits.sum(1), torch.ones(7))


def test_seed_gives_torch_initialization_and_restores_global_rng():
    torch.manual_seed(11)
    ref = reference_net((30, 10, 4))
    state = torch.random.get_rng_state()
    net = MLP(30, hidden=(10,), out_dim=4, seed=11)
    assert torch.equal(torch.random.get_rng_state(), state)
    for layer, ref_layer in zip(net.layers, [ref[0], ref[2]]):
        assert torch.equal(layer.weight, ref_layer.weight)
        assert torch.equal(layer.bias, ref_layer.bias)


def test_dropout_layers_active_only_in_training():
    torch.manual_seed(0)
    net = MLP(12, hidden=(64, 64), out_dim=3, p=0.5, input_p=0.2)
    plain = MLP(12, hidden=(64, 64), out_dim=3)
    plain.load_state_dict(net.state_dict())
    X = torch.randn(5, 12)
    net.eval()
    torch.testing.assert_close(net(X), plain(X), rtol=0, atol=0)
    net.train()
    assert not torch.allclose(net(X), plain(X))


def test_each_dropout_site_uses_its_own_p():
    """input_p on the inputs, p[l] after hidden layer l's ReLU: what reaches each Linear in
    training mode, recomputed with F.linear and F.relu from what reached the layer before."""
    net = MLP(20, hidden=(300, 300), out_dim=4, p=[0.6, 0.1], input_p=0.3, seed=0).train()
    seen = []
    for layer in net.layers:
        layer.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    torch.manual_seed(0)
    X = torch.randn(200, 20)
    net(X)
    before = [X] + [F.relu(F.linear(x, layer.weight, layer.bias)).detach() for x, layer in zip(seen, net.layers)]
    for site, (p, pre, post) in enumerate(zip([0.3, 0.6, 0.1], before, seen)):
        kept = post != 0
        torch.testing.assert_close(post[kept], pre[kept] / (1 - p), msg=f"site {site}")
        alive = pre != 0  # ReLU zeros stay zero whatever the mask
        dropped = (~kept[alive]).float().mean().item()
        assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / alive.sum().item()), (site, dropped)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden": (10,), "p": 1.0}, r"^p must be a finite number in \[0, 1\), got 1.0$"),
        ({"hidden": (10,), "p": -0.1}, r"^p must be a finite number in \[0, 1\), got -0.1$"),
        ({"hidden": (10,), "p": [0.2, 0.3]}, r"^p needs one probability per hidden layer \(1\), got 2$"),
        ({"hidden": (10,), "input_p": 1.5}, r"^input_p must be a finite number in \[0, 1\), got 1.5$"),
        ({"dropout": [True] * 4, "dropout_p": 1.0}, r"^dropout_p must be a finite number in \[0, 1\), got 1.0$"),
        ({"dropout": [True, False]}, r"^dropout needs one flag per hidden layer \(4\), got 2$"),
        ({"hidden": ()}, r"^hidden must be a non-empty sequence of widths, got \(\)$"),
        ({"hidden": 5}, "^hidden must be a non-empty sequence of widths, got 5$"),
        ({"hidden": (10, 0)}, "^each width in hidden must be an integer >= 1, got 0$"),
        ({"num_layers": 1}, "^num_layers must be an integer >= 2, got 1$"),
        ({"input_dim": 0, "hidden": (3,)}, "^input_dim must be an integer >= 1, got 0$"),
        ({"out_dim": 0, "hidden": (3,)}, "^out_dim must be an integer >= 1, got 0$"),
        ({"hidden": (10,), "num_layers": 3}, r"^give either hidden=\(...\) or hidden_dim/num_layers, not both$"),
        ({"hidden": (10,), "p": 0.1, "dropout": [True]},
         r"^give either dropout=\[flags\] \(with dropout_p\) or p, not both$"),
        ({"hidden": (10,), "seed": "a"}, "^seed must be an integer >= 0 or None, got 'a'$"),
        ({"hidden": (10,), "seed": True}, "^seed must be an integer >= 0 or None, got True$"),
        ({"hidden": (10,), "seed": -1}, "^seed must be an integer >= 0 or None, got -1$"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_double_softmax_loss_floor_quoted_in_docstring():
    # softmax outputs lie in [0, 1]; the best cross-entropy on them is log(1 + 9/e) ≈ 1.461
    probs = F.one_hot(torch.arange(10), 10).float()  # the most confident possible softmax output
    floor = F.cross_entropy(probs, torch.arange(10)).item()
    assert floor == pytest.approx(math.log(1 + 9 / math.e), rel=1e-6)
    assert 1.46 < floor < 1.48
    assert "1.48" in MLP.__doc__ and "double softmax" in MLP.__doc__


# -- from-scratch dropout vs nn.Dropout -------------------------------------------------------


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_matches_nn_dropout_in_distribution(p):
    X = torch.full((400_000,), 2.0)
    ours = dropout(X, p, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    ref = nn.Dropout(p).train()(X)
    for out in (ours, ref):
        # values are 0 or x / (1 - p), exactly
        kept = out != 0
        torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0 / (1 - p)))
    # fraction dropped ~ p, mean ~ x; 5 standard errors
    se_frac = math.sqrt(p * (1 - p) / X.numel())
    for out in (ours, ref):
        assert abs((out == 0).float().mean().item() - p) < 5 * se_frac
        assert abs(out.mean().item() - 2.0) < 5 * 2.0 / (1 - p) * se_frac
    assert abs((ours == 0).float().mean().item() - (ref == 0).float().mean().item()) < 7 * se_frac


def test_dropout_identity_in_eval_and_for_p_zero():
    X = torch.randn(50, 7)
    assert torch.equal(dropout(X, 0.5, training=False), nn.Dropout(0.5).eval()(X))
    assert dropout(X, 0.5, training=False) is X
    assert dropout(X, 0.0) is X


def test_dropout_gradient_is_the_mask_scaled():
    X = torch.randn(1000, requires_grad=True)
    out = dropout(X, 0.25, generator=torch.Generator().manual_seed(1))
    out.sum().backward()
    expected = (out.detach() != 0).float() / 0.75
    torch.testing.assert_close(X.grad, expected)


def test_dropout_generator_makes_it_reproducible():
    X = torch.randn(100)
    a = dropout(X, 0.5, generator=torch.Generator().manual_seed(5))
    b = dropout(X, 0.5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("p", [1.0, -0.01, 2, True, "0.5"])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"^p must be a finite number in \[0, 1\)"):
        dropout(torch.ones(3), p)


def test_package_exports():
    assert ru.MLP is MLP and ru.dropout is dropout
