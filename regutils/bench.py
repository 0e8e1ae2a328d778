"""Training throughput benchmark: ``python -m regutils.bench [--quick] [--json PATH]``.

Measures, on one machine in one run, training samples per second of the book's MLP
(784-400-400-400-400-10, ReLU, Adam lr 1e-3, no dropout) trained

* (a) the original notebooks' way: ``torchvision.datasets.MNIST`` with the per-sample
  transforms ``ToTensor()`` and ``Normalize((0.1307,), (0.3081,))``, a ``DataLoader``
  (batch 64, shuffled, no worker processes), model and batches moved to the device;
* (a') the peer a careful user writes: a ``DataLoader`` over a ``TensorDataset`` of the same
  normalized tensors the book uses (batch 64, shuffled, float32);
* (b) with :func:`regutils.fit` at batch 64, at batch 128 in float32, and with the book's
  recipe (batch :data:`BOOK_BATCH_SIZE`, the precision :func:`regutils.hardware.precision`
  picks here);
* (c) with :func:`regutils.sweep`, K = 16 models at batch 64 (model-samples per second: the
  samples each model processed, summed over the K models);
* (d) the matrix-product roof: a 2048 x 2048 x 2048 product in float32 and, where the device
  does bfloat16 natively, in bfloat16 (GFLOP/s). ``roof_fraction`` is the book recipe's
  samples/s over the samples/s that roof allows at the recipe's precision, one training
  sample of this MLP costing :func:`flops_per_sample` floating-point operations.

Every measurement first runs warm-up steps (allocation, kernel selection, caches), then
times a fixed number of optimizer steps. For (b) and (c) that is one ``fit``/``sweep`` epoch
over a training subset of exactly ``steps × batch size`` rows, timed by the History's
``wall_time_s``; it includes the end-of-epoch validation pass on 1,024 validation rows (a
forward pass, about a third of a training sample's work per row): in a full run about 1 % of
the work for (b) and about 5 % for (c), which times fewer steps per network (more with
``--quick``). Ratios: ``ratio_fit_vs_loader = b(64) / a``, ``ratio_book_vs_peer =
b(book) / a'``, ``ratio_book_vs_fp32 = b(book) / b(128, fp32)`` and ``ratio_sweep_vs_fit =
c / b(64)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .recipes import FULL_DATA, HIDDEN

#: The batch size the chapters train with (rows per optimizer step).
BOOK_BATCH_SIZE = FULL_DATA["batch_size"]
SWEEP_K = 16

LR = 1e-3
VAL_ROWS = 1024

# optimizer steps timed per measurement (after the warm-up steps)
STEPS = {
    "quick": {"warmup": 10, "loader": 150, "fit64": 200, "fit_book": 100, "sweep": 24, "gemm": 3},
    # fit_book: 180 steps of 256 rows fit in the 48,000 training rows
    "full": {"warmup": 30, "loader": 600, "fit64": 600, "fit_book": 180, "sweep": 100, "gemm": 10},
}

def machine_description(dev: torch.device) -> str:
    """A one-line description of the device, its precision and the host's cores."""
    from .hardware import describe

    return f"{describe(dev)}; {os.cpu_count()} logical cores"

def flops_per_sample(widths=(784, *HIDDEN, 10)) -> int:
    """Floating-point operations of one training sample of the MLP (multiply-add = 2).

    Forward ``2·Σ in·out``; backward the same again for the weight gradients and once more
    for the input gradients of every layer but the first (the data needs none): 4.16 million
    for the book's network.
    """
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 2 * (3 * macs - widths[0] * widths[1])

def bench_gemm(dev: torch.device, dtype: torch.dtype, repeats: int, size: int = 2048) -> float:
    """GFLOP/s of a ``size``³ matrix product in ``dtype`` on ``dev`` (mean of ``repeats``)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(dev, dtype)
    b = torch.randn(size, size, generator=g).to(dev, dtype)
    a @ b
    _sync(dev)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(dev)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9

def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()

def _time_loader(loader, dev: torch.device, warmup: int, steps: int) -> float:
    """Samples/s of a plain training loop (the book's MLP, Adam) over ``loader``'s batches.

    The loop a reader writes: each batch is flattened and moved to ``dev``, then one
    forward, backward and Adam step. ``warmup`` steps run first, untimed.
    """
    from .models import MLP

    model = MLP(hidden=HIDDEN, seed=0).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def batches():
        while True:
            yield from loader

    it = batches()
    for i in range(warmup + steps):
        if i == warmup:
            _sync(dev)
            start = time.perf_counter()
        X, y = next(it)
        X, y = X.view(len(X), -1).to(dev), y.to(dev)
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(dev)
    return steps * loader.batch_size / (time.perf_counter() - start)

def bench_loader(dev: torch.device, warmup: int, steps: int, root) -> float:
    """(a) samples/s of the original DataLoader loop at batch 64 (per-image PIL transforms)."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(root, train=True, download=False, transform=tf)
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    return _time_loader(loader, dev, warmup, steps)

def bench_tensor_loader(data, warmup: int, steps: int) -> float:
    """(a') samples/s of a ``DataLoader`` over a ``TensorDataset`` of the book's tensors, batch 64."""
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(data.X_train, data.y_train)
    loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    return _time_loader(loader, data.device, warmup, steps)

def _bench_data(data, rows: int):
    small = replace(data, X_val=data.X_val[:VAL_ROWS], y_val=data.y_val[:VAL_ROWS])
    return small.subset(rows, seed=0)

def bench_fit(data, batch_size: int, warmup: int, steps: int, precision: str | None = None) -> float:
    """(b) samples/s of ``fit`` at ``batch_size`` and ``precision`` (None: the book's choice)."""
    from .models import MLP
    from .training import fit

    args = dict(epochs=1, lr=LR, batch_size=batch_size, precision=precision, progress=False)
    fit(MLP(hidden=HIDDEN, seed=0), _bench_data(data, warmup * batch_size), **args)
    history = fit(MLP(hidden=HIDDEN, seed=0), _bench_data(data, steps * batch_size), **args)
    return steps * batch_size / history.wall_time_s

def bench_sweep(data, k: int, warmup: int, steps: int) -> float:
    """(c) model-samples/s of ``sweep`` with ``k`` models (seeds 0..k-1) at batch 64."""
    from .sweeps import sweep

    configs = [{"seed": i} for i in range(k)]
    sweep(configs, _bench_data(data, warmup * 64), epochs=1, batch_size=64, hidden=HIDDEN, progress=False)
    result = sweep(configs, _bench_data(data, steps * 64), epochs=1, batch_size=64, hidden=HIDDEN, progress=False)
    return k * steps * 64 / result.wall_time_s

def run(quick: bool = False, device=None) -> dict:
    """Run every measurement and return the result dict (see the module docstring)."""
    from .data import data_dir, load_mnist, prepare_mnist_raw
    from .hardware import device as pick_device
    from .hardware import native_bf16, precision

    dev = pick_device(None if device is None else str(device))
    n = STEPS["quick" if quick else "full"]
    prepare_mnist_raw()
    data = load_mnist(device=dev)
    book_precision = precision(None, dev)
    started = time.perf_counter()
    r = {
        "loader_samples_per_s": bench_loader(dev, n["warmup"], n["loader"], data_dir()),
        "peer_tensor_loader_samples_per_s": bench_tensor_loader(data, n["warmup"], n["loader"]),
        "fit_bs64_samples_per_s": bench_fit(data, 64, n["warmup"], n["fit64"]),
        "fit_fp32_bs128_samples_per_s": bench_fit(data, 128, n["warmup"], n["fit_book"], "fp32"),
        "fit_book_samples_per_s": bench_fit(data, BOOK_BATCH_SIZE, n["warmup"], n["fit_book"]),
        "sweep_model_samples_per_s": bench_sweep(data, SWEEP_K, max(2, n["warmup"] // 4), n["sweep"]),
        "gemm_fp32_gflops": bench_gemm(dev, torch.float32, n["gemm"]),
        # emulated bfloat16 runs at a fraction of a GFLOP/s: not worth minutes to measure
        "gemm_bf16_gflops": bench_gemm(dev, torch.bfloat16, n["gemm"]) if native_bf16(dev) else None,
    }
    roof_gflops = r["gemm_bf16_gflops"] if book_precision == "bf16" else r["gemm_fp32_gflops"]
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "device": str(dev),
        "device_description": machine_description(dev),
        "native_bf16": native_bf16(dev),
        "precision": book_precision,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mode": "quick" if quick else "full",
        "steps": n,
        "book_batch_size": BOOK_BATCH_SIZE,
        "sweep_k": SWEEP_K,
        "flops_per_sample": flops_per_sample(),
        **r,
        "fit_bs128_samples_per_s": r["fit_fp32_bs128_samples_per_s"],
        "ratio_fit_vs_loader": r["fit_bs64_samples_per_s"] / r["loader_samples_per_s"],
        "ratio_book_vs_peer": r["fit_book_samples_per_s"] / r["peer_tensor_loader_samples_per_s"],
        "ratio_book_vs_fp32": r["fit_book_samples_per_s"] / r["fit_fp32_bs128_samples_per_s"],
        "ratio_sweep_vs_fit": r["sweep_model_samples_per_s"] / r["fit_bs64_samples_per_s"],
        "roof_samples_per_s": roof_gflops * 1e9 / flops_per_sample(),
        "roof_fraction": r["fit_book_samples_per_s"] / (roof_gflops * 1e9 / flops_per_sample()),
        "load_average_1min": load,
        "bench_seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d"),
    }

def format_table(result: dict) -> str:
    """The result as a plain-text table."""
    bs, prec = result["book_batch_size"], result["precision"]
    rows = [
        ("(a) DataLoader loop, batch 64", result["loader_samples_per_s"], "samples/s"),
        ("(a') TensorDataset loader, batch 64", result["peer_tensor_loader_samples_per_s"], "samples/s"),
        ("(b) fit, batch 64", result["fit_bs64_samples_per_s"], "samples/s"),
        ("(b) fit, batch 128, fp32", result["fit_fp32_bs128_samples_per_s"], "samples/s"),
        (f"(b) fit, book recipe: batch {bs}, {prec}", result["fit_book_samples_per_s"], "samples/s"),
        (f"(c) sweep, K={result['sweep_k']}, batch 64", result["sweep_model_samples_per_s"], "model-samples/s"),
        ("(d) GEMM 2048³ fp32", result["gemm_fp32_gflops"], "GFLOP/s"),
    ]
    if result["gemm_bf16_gflops"] is not None:
        rows.append(("(d) GEMM 2048³ bf16", result["gemm_bf16_gflops"], "GFLOP/s"))
    lines = [f"device: {result['device']} — {result['device_description']}"]
    lines += [f"{name:<40}{value:>12,.0f}  {unit}" for name, value, unit in rows]
    for key, name in [("ratio_fit_vs_loader", "fit / DataLoader (batch 64)"),
                      ("ratio_book_vs_peer", "book recipe / TensorDataset loader"),
                      ("ratio_book_vs_fp32", "book recipe / fit fp32 batch 128"),
                      ("ratio_sweep_vs_fit", "sweep / fit (per model, batch 64)"),
                      ("roof_fraction", f"book recipe / {prec} GEMM roof")]:
        lines.append(f"{name:<40}{result[key]:>12.2f}x")
    return "\n".join(lines)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regutils.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (under 2 minutes on a 2-core CPU)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result as JSON to PATH")
    parser.add_argument("--device", default=None, help="torch device (default: regutils.device())")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is steadier on a busy machine)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    result = run(quick=args.quick, device=args.device)
    print(format_table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
