"""python -m regutils.bench: the table, the JSON keys and the ratios' arithmetic."""

import json
import types

import pytest
import torch
import torch.nn.functional as F

from regutils import bench

from _engine_fixtures import synthetic_mnist

REQUIRED = {
    "device",
    "precision",
    "loader_samples_per_s",
    "peer_tensor_loader_samples_per_s",
    "fit_bs64_samples_per_s",
    "fit_bs128_samples_per_s",
    "fit_fp32_bs128_samples_per_s",
    "fit_book_samples_per_s",
    "sweep_model_samples_per_s",
    "gemm_fp32_gflops",
    "gemm_bf16_gflops",
    "ratio_fit_vs_loader",
    "ratio_book_vs_peer",
    "ratio_book_vs_fp32",
    "ratio_sweep_vs_fit",
    "roof_fraction",
}


def fake_result():
    return {
        "device": "cpu",
        "device_description": "CPU: test",
        "precision": "bf16",
        "book_batch_size": bench.BOOK_BATCH_SIZE,
        "sweep_k": 16,
        "loader_samples_per_s": 1000.0,
        "peer_tensor_loader_samples_per_s": 2000.0,
        "fit_bs64_samples_per_s": 3000.0,
        "fit_fp32_bs128_samples_per_s": 4000.0,
        "fit_book_samples_per_s": 12000.0,
        "sweep_model_samples_per_s": 3300.0,
        "gemm_fp32_gflops": 200.0,
        "gemm_bf16_gflops": 900.0,
        "ratio_fit_vs_loader": 3.0,
        "ratio_book_vs_peer": 6.0,
        "ratio_book_vs_fp32": 3.0,
        "ratio_sweep_vs_fit": 1.1,
        "roof_fraction": 0.0555,
    }


def test_table_lists_every_measurement():
    table = bench.format_table(fake_result())
    for text in ("DataLoader", "TensorDataset", "fit, batch 64", "batch 128, fp32",
                 f"book recipe: batch {bench.BOOK_BATCH_SIZE}, bf16", "sweep, K=16", "GEMM 2048³ bf16",
                 "3.00x", "6.00x", "1.10x", "0.06x"):
        assert text in table
    # each row carries its own number (fake_result's, with thousands separators)
    rows = {line[:40].strip(): line[40:].split() for line in table.splitlines()[1:]}
    assert rows["(a) DataLoader loop, batch 64"] == ["1,000", "samples/s"]
    assert rows["(b) fit, batch 128, fp32"] == ["4,000", "samples/s"]
    assert rows[f"(b) fit, book recipe: batch {bench.BOOK_BATCH_SIZE}, bf16"] == ["12,000", "samples/s"]
    assert rows["(c) sweep, K=16, batch 64"] == ["3,300", "model-samples/s"]
    assert rows["(d) GEMM 2048³ bf16"] == ["900", "GFLOP/s"]
    assert rows["book recipe / TensorDataset loader"] == ["6.00x"]
    # no bf16 GEMM measured (emulated bfloat16): no row for it
    assert "GEMM 2048³ bf16" not in bench.format_table({**fake_result(), "gemm_bf16_gflops": None})


def test_flops_per_sample_of_the_book_mlp():
    # forward 2·(784·400 + 3·400·400 + 400·10) = 1,595,200; weight gradients the same;
    # input gradients for every layer but the first: 1,595,200 − 2·784·400 = 968,000
    assert bench.flops_per_sample() == 2 * 1_595_200 + 968_000
    assert bench.flops_per_sample((3, 2)) == 2 * 6 + 2 * 6  # forward and weight gradients only


def test_main_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "run", lambda quick, device: fake_result())
    out = tmp_path / "sub" / "bench.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == fake_result()
    assert "DataLoader" in capsys.readouterr().out


def test_fit_and_sweep_rates_on_synthetic_data(monkeypatch):
    monkeypatch.setattr(bench, "HIDDEN", (16,))
    data = synthetic_mnist(n_train=256, n_val=64, n_test=8)
    assert 0 < bench.bench_fit(data, 32, warmup=1, steps=4) < float("inf")  # runs end to end
    assert 0 < bench.bench_sweep(data, 3, warmup=1, steps=4) < float("inf")


def test_fit_and_sweep_rates_are_timed_epochs_of_steps_times_batch_rows(monkeypatch):
    """The documented arithmetic, with the training replaced by a stand-in that takes 2 s."""
    import sys

    from regutils.training import History

    monkeypatch.setattr(bench, "HIDDEN", (16,))
    monkeypatch.setattr(bench, "VAL_ROWS", 48)
    data = synthetic_mnist(n_train=512, n_val=64, n_test=8)
    calls = []

    def fake_fit(model, data, **kwargs):
        calls.append((len(data.y_train), len(data.y_val), kwargs["epochs"], kwargs["batch_size"]))
        return History(wall_time_s=2.0)

    def fake_sweep(configs, data, **kwargs):
        calls.append(([c["seed"] for c in configs], len(data.y_train), len(data.y_val), kwargs["batch_size"]))
        return types.SimpleNamespace(wall_time_s=2.0)

    monkeypatch.setattr(sys.modules["regutils.training"], "fit", fake_fit)
    monkeypatch.setattr(sys.modules["regutils.sweeps"], "sweep", fake_sweep)
    # one warm-up epoch of 2 x 32 rows, then a timed one of 5 x 32: 160 rows in 2 s
    assert bench.bench_fit(data, 32, warmup=2, steps=5) == 80.0
    assert calls == [(64, 48, 1, 32), (160, 48, 1, 32)]
    calls.clear()
    # 3 models, 4 steps of 64 rows each in 2 s: 3 * 256 / 2 model-samples per second
    assert bench.bench_sweep(data, 3, warmup=1, steps=4) == 384.0
    assert calls == [([0, 1, 2], 64, 48, 64), ([0, 1, 2], 256, 48, 64)]


@pytest.mark.slow
def test_quick_run_on_mnist(mnist_mirror, tmp_path, monkeypatch):
    tiny = {"warmup": 2, "loader": 5, "fit64": 5, "fit_book": 3, "sweep": 2, "gemm": 1}
    monkeypatch.setitem(bench.STEPS, "quick", tiny)
    monkeypatch.setattr(bench, "SWEEP_K", 2)
    out = tmp_path / "bench.json"
    bench.main(["--quick", "--json", str(out), "--device", "cpu"])
    result = json.loads(out.read_text())
    assert REQUIRED <= set(result)
    assert result["device"] == "cpu" and result["steps"] == tiny
    assert result["ratio_fit_vs_loader"] == pytest.approx(
        result["fit_bs64_samples_per_s"] / result["loader_samples_per_s"])
    assert result["ratio_sweep_vs_fit"] == pytest.approx(
        result["sweep_model_samples_per_s"] / result["fit_bs64_samples_per_s"])
    assert result["ratio_book_vs_fp32"] == pytest.approx(
        result["fit_book_samples_per_s"] / result["fit_fp32_bs128_samples_per_s"])
    assert result["ratio_book_vs_peer"] == pytest.approx(
        result["fit_book_samples_per_s"] / result["peer_tensor_loader_samples_per_s"])
    gflops = result["gemm_bf16_gflops"] if result["precision"] == "bf16" else result["gemm_fp32_gflops"]
    assert result["roof_fraction"] == pytest.approx(
        result["fit_book_samples_per_s"] * result["flops_per_sample"] / (gflops * 1e9))


def test_threads_option(monkeypatch, capsys):
    monkeypatch.setattr(bench, "run", lambda quick, device: fake_result())
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
    assert "--threads must be >= 1" in capsys.readouterr().err
    before = torch.get_num_threads()
    try:
        bench.main(["--threads", "1"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_tensor_loader_rate_on_synthetic_data(monkeypatch):
    monkeypatch.setattr(bench, "HIDDEN", (16,))
    data = synthetic_mnist(n_train=256, n_val=64, n_test=8)
    # a clock that reads 10 s when timing starts and 12.5 s when it ends, and a loss that
    # counts the steps: 1 warm-up + 6 timed steps of 64 rows (past the 4 batches of an epoch)
    clock = iter([10.0, 12.5])
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    steps = []

    def counting_loss(logits, y):
        steps.append(len(y))
        return F.cross_entropy(logits, y)

    monkeypatch.setattr(bench, "F", types.SimpleNamespace(cross_entropy=counting_loss))
    assert bench.bench_tensor_loader(data, warmup=1, steps=6) == 6 * 64 / 2.5
    assert steps == [64] * 7


def test_every_timed_epoch_fits_in_the_training_rows():
    for mode in bench.STEPS.values():
        for key, batch in (("fit64", 64), ("fit_book", bench.BOOK_BATCH_SIZE), ("sweep", 64)):
            assert mode[key] * batch <= 48_000, (key, mode)
        assert (mode["warmup"] + mode["loader"]) * 64 <= 48_000
