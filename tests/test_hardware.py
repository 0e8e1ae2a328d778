"""regutils.hardware: the training precision and the device banner."""

import dataclasses
import platform
from pathlib import Path

import pytest
import torch

import regutils as ru
from regutils import hardware

from _engine_fixtures import synthetic_mnist


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("REGUTILS_PRECISION", raising=False)


def test_auto_follows_native_support(no_env, monkeypatch):
    monkeypatch.setattr(hardware, "native_bf16", lambda dev: True)
    assert ru.precision(None, torch.device("cpu")) == "bf16"
    monkeypatch.setattr(hardware, "native_bf16", lambda dev: False)
    assert ru.precision(None, torch.device("cpu")) == "fp32"
    assert ru.precision("auto", torch.device("cpu")) == "fp32"


def test_environment_and_argument_override(monkeypatch):
    monkeypatch.setattr(hardware, "native_bf16", lambda dev: True)
    monkeypatch.setenv("REGUTILS_PRECISION", "fp32")
    assert ru.precision(None, torch.device("cpu")) == "fp32"
    assert ru.precision("bf16", torch.device("cpu")) == "bf16"  # the argument wins


def test_bad_precision_names_its_source(monkeypatch):
    with pytest.raises(ValueError, match=r"^precision must be one of 'auto', 'fp32', 'bf16', got 'fp16'"):
        ru.precision("fp16")
    monkeypatch.setenv("REGUTILS_PRECISION", "half")
    with pytest.raises(ValueError, match=r"^REGUTILS_PRECISION must be one of 'auto', 'fp32', 'bf16', got 'half'"):
        ru.precision()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


# The documented rule: an x86 CPU does bfloat16 natively if it has AVX512-BF16 or AMX. The
# answer key is the kernel's list of CPU flags, read independently of torch. (oneDNN's own
# bfloat16 check would also count AVX-512 without BF16, Skylake to Ice Lake, where bfloat16
# is emulated: the rule is not that check.)
_FLAGS = _cpu_flags()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the rule names x86 instructions")
@pytest.mark.skipif(not _FLAGS, reason="no /proc/cpuinfo flags to check against")
def test_native_bf16_on_the_cpu_means_avx512_bf16_or_amx():
    hardware._native_bf16.cache_clear()
    assert ru.native_bf16(torch.device("cpu")) is bool(_FLAGS & {"avx512_bf16", "amx_tile"})
    assert ru.native_bf16(torch.device("meta")) is False  # neither CPU nor CUDA


def test_autocast_computes_in_bfloat16_only_when_asked():
    a, b = torch.ones(2, 3), torch.ones(3, 2)
    with hardware.autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with hardware.autocast(torch.device("cpu"), "fp32"):
        assert (a @ b).dtype == torch.float32


def test_banner_names_device_and_precision(monkeypatch):
    monkeypatch.setattr(hardware, "native_bf16", lambda dev: False)
    text = ru.describe_device(torch.device("cpu"), "fp32")
    assert text.startswith("CPU: ") and "torch threads" in text and text.endswith("fp32 (no native bfloat16)")
    assert ru.describe_device(torch.device("cpu"), "bf16").endswith("bf16 autocast")


def test_bf16_training_keeps_fp32_weights_and_records_the_precision():
    data = synthetic_mnist(n_train=128, n_val=32, n_test=8)
    model = ru.MLP(hidden=(16,), seed=0)
    h = ru.fit(model, data, epochs=1, lr=1e-2, batch_size=32, precision="bf16", progress=False)
    assert h.config["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    r = ru.sweep([{"seed": 0}], data, hidden=(16,), epochs=1, batch_size=32, precision="bf16", progress=False)
    assert r.histories[0].config["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in r.states[0].values())
    # the fp32 path is unchanged by the precision machinery: same seed, same numbers
    a = ru.fit(ru.MLP(hidden=(16,), seed=0), data, epochs=1, lr=1e-2, batch_size=32, precision="fp32", progress=False)
    b = ru.fit(ru.MLP(hidden=(16,), seed=0), data, epochs=1, lr=1e-2, batch_size=32, progress=False)
    assert a.val_loss == b.val_loss and b.config["precision"] == "fp32"
    # and bf16 really ran in bfloat16: the same run's numbers moved, by bfloat16's rounding
    # (8 significant bits: here 0.3 % to 0.5 % on the loss), not more
    fp32 = ru.sweep([{"seed": 0}], data, hidden=(16,), epochs=1, batch_size=32, precision="fp32", progress=False)
    for low, full in ((h, a), (r.histories[0], fp32.histories[0])):
        assert low.train_loss != full.train_loss and low.val_loss != full.val_loss
        assert low.train_loss == pytest.approx(full.train_loss, rel=2e-2)
        assert low.val_loss == pytest.approx(full.val_loss, rel=2e-2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ru.native_bf16(None),
         r"^dev must be a torch.device or a device string such as 'cpu' or 'cuda:0', got NoneType$"),
        (lambda: ru.native_bf16(["cpu"]),
         r"^dev must be a torch.device or a device string such as 'cpu' or 'cuda:0', got list$"),
        (lambda: ru.native_bf16("gpu"), r"^dev='gpu' is not a torch device \("),
        (lambda: hardware.autocast("cpu", "fp16"), r"^prec must be one of 'fp32', 'bf16', got 'fp16'$"),
        (lambda: hardware.autocast(0, "fp32"), r"^dev must be a torch.device or a device string"),
        (lambda: ru.precision("auto", dev="tpu"), r"^dev='tpu' is not a torch device \("),
        (lambda: hardware.describe(dev=1.5), r"^dev must be a torch.device or a device string"),
    ],
)
def test_a_bad_device_or_precision_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_native_bf16_takes_a_device_string():
    assert ru.native_bf16("cpu") is ru.native_bf16(torch.device("cpu"))


# ---------------------------------------------------------------------------------------------
# subnormal values: flushed to zero in the training loops on the CPU

TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32, about 1.2e-38


def test_flush_subnormals_zeroes_only_subnormal_values():
    t = torch.tensor([1e-39, -3e-40, TINY, -TINY, 0.0, 1e-30, 2.5, float("inf")])
    d = torch.tensor([1e-310, 1e-300], dtype=torch.float64)  # float64 has its own range
    counts = torch.tensor([1, 0, 3])
    hardware.flush_subnormals_([t, d, counts])
    expected = torch.tensor([0.0, 0.0, TINY, -TINY, 0.0, 1e-30, 2.5, float("inf")])
    assert torch.equal(t, expected)
    assert d.tolist() == [0.0, 1e-300]
    assert counts.tolist() == [1, 0, 3]


def test_flush_due_every_flush_every_steps_on_the_cpu_only():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    due = [s for s in range(1, 3 * hardware.FLUSH_EVERY + 1) if hardware.flush_due(cpu, s)]
    assert due == [hardware.FLUSH_EVERY, 2 * hardware.FLUSH_EVERY, 3 * hardware.FLUSH_EVERY]
    assert not any(hardware.flush_due(cuda, s) for s in range(1, 3 * hardware.FLUSH_EVERY + 1))


def _dead_input(data):
    """``data`` with its first input column zero: that column's first-layer weights get no
    gradient, so a subnormal value put there stays unless the loop flushes it."""
    X = data.X_train.clone()
    X[:, 0] = 0.0
    return dataclasses.replace(data, X_train=X)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_flushes_subnormal_weights_and_state(optimizer):
    data = _dead_input(synthetic_mnist(n_train=512))
    model = ru.MLP(hidden=(16,), seed=0)
    with torch.no_grad():
        model.layers[0].weight[:, 0] = 1e-39
    steps = 512 // 32  # one epoch of batches of 32
    assert steps % hardware.FLUSH_EVERY == 0
    ru.fit(model, data, epochs=1, lr=1e-3, batch_size=32, optimizer=optimizer, progress=False)
    assert torch.all(model.layers[0].weight[:, 0] == 0)
    assert torch.all(model.layers[0].weight[:, 1:] != 0)  # the rest trained as usual


def test_sweep_flushes_every_flush_every_steps(monkeypatch):
    seen = []
    real = hardware.flush_subnormals_
    monkeypatch.setattr(hardware, "flush_subnormals_", lambda ts: (seen.append(len(ts)), real(ts)))
    data = _dead_input(synthetic_mnist(n_train=512))
    configs = [dict(lr=1e-3, seed=0), dict(lr=1e-3, seed=1, weight_decay=1e-4)]
    result = ru.sweep(configs, data, hidden=(16,), epochs=2, batch_size=32, progress=False)
    n_layers = 2  # one hidden layer and the output layer: a weight and a bias each
    # every 16th of the 32 steps, the weights and both Adam moments of the stack
    assert seen == [3 * 2 * n_layers] * (2 * 512 // 32 // hardware.FLUSH_EVERY)
    assert len(result) == 2
