"""Training throughput benchmark: ``python -m regutils.bench [--quick] [--json PATH]``.

Measures, on one machine in one run, training samples per second of the book's MLP
(784-400-400-400-400-10, ReLU, Adam lr 1e-3, no dropout) trained

(a) the original notebooks' way: ``torchvision.datasets.MNIST`` with the per-sample
    transforms ``ToTensor()`` and ``Normalize((0.1307,), (0.3081,))``, a ``DataLoader``
    (batch 64, shuffled, no worker processes), model and batches moved to the device;
(b) with :func:`regutils.fit` at batch 64 and at the batch size the chapters use
    (:data:`regutils.bench.BOOK_BATCH_SIZE`);
(c) with :func:`regutils.sweep`, K = 16 models at batch 64 (model-samples per second: the
    samples each model processed, summed over the K models).

Every measurement first runs warm-up steps (allocation, kernel selection, caches), then
times a fixed number of optimizer steps. For (b) and (c) that is one ``fit``/``sweep`` epoch
over a training subset of exactly ``steps × batch size`` rows, timed by the History's
``wall_time_s``; it includes the end-of-epoch validation pass, on 1,024 validation rows, so
about 1 % of the work. The ratios are ``ratio_fit_vs_loader = b(64) / a`` and
``ratio_sweep_vs_fit = c / b(64)``.
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

#: The batch size the chapters train with (rows per optimizer step).
BOOK_BATCH_SIZE = 128
SWEEP_K = 16
HIDDEN = (400, 400, 400, 400)
LR = 1e-3
VAL_ROWS = 1024

# optimizer steps timed per measurement (after the warm-up steps)
STEPS = {
    "quick": {"warmup": 10, "loader": 150, "fit64": 200, "fit_book": 100, "sweep": 24},
    "full": {"warmup": 30, "loader": 600, "fit64": 600, "fit_book": 300, "sweep": 100},
}


def machine_description(dev: torch.device) -> str:
    """A one-line description of the device and host."""
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA), host {platform.processor() or platform.machine()}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU: {cpu}, {threads} torch thread{'' if threads == 1 else 's'}, {os.cpu_count()} logical cores"


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def bench_loader(dev: torch.device, warmup: int, steps: int, root) -> float:
    """(a) samples/s of the original DataLoader loop at batch 64."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from .models import MLP

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(root, train=True, download=False, transform=tf)
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = MLP(hidden=HIDDEN, seed=0).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()

    def batches():
        while True:
            yield from loader

    it = batches()
    for i in range(warmup + steps):
        if i == warmup:
            _sync(dev)
            start = time.perf_counter()
        images, labels = next(it)
        images, labels = images.view(len(images), -1).to(dev), labels.to(dev)
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _sync(dev)
    return steps * 64 / (time.perf_counter() - start)


def _bench_data(data, rows: int):
    small = replace(data, X_val=data.X_val[:VAL_ROWS], y_val=data.y_val[:VAL_ROWS])
    return small.subset(rows, seed=0)


def bench_fit(data, batch_size: int, warmup: int, steps: int) -> float:
    """(b) samples/s of ``fit`` at ``batch_size``."""
    from .models import MLP
    from .training import fit

    fit(MLP(hidden=HIDDEN, seed=0), _bench_data(data, warmup * batch_size), epochs=1, lr=LR,
        batch_size=batch_size, progress=False)
    timed = _bench_data(data, steps * batch_size)
    history = fit(MLP(hidden=HIDDEN, seed=0), timed, epochs=1, lr=LR, batch_size=batch_size, progress=False)
    return steps * batch_size / history.wall_time_s


def bench_sweep(data, k: int, warmup: int, steps: int) -> float:
    """(c) model-samples/s of ``sweep`` with ``k`` models (seeds 0..k-1) at batch 64."""
    from . import __getattr__ as export  # the function regutils.sweep, not the module

    sweep = export("sweep")
    configs = [{"seed": i} for i in range(k)]
    sweep(configs, _bench_data(data, warmup * 64), epochs=1, batch_size=64, hidden=HIDDEN, progress=False)
    result = sweep(configs, _bench_data(data, steps * 64), epochs=1, batch_size=64, hidden=HIDDEN, progress=False)
    return k * steps * 64 / result.wall_time_s


def run(quick: bool = False, device=None) -> dict:
    """Run every measurement and return the result dict (see the module docstring)."""
    from .data import data_dir, load_mnist, prepare_mnist_raw
    from .hardware import device as pick_device

    dev = pick_device(None if device is None else str(device))
    n = STEPS["quick" if quick else "full"]
    prepare_mnist_raw()
    root = data_dir()
    data = load_mnist(device=dev)
    started = time.perf_counter()
    loader = bench_loader(dev, n["warmup"], n["loader"], root)
    fit64 = bench_fit(data, 64, n["warmup"], n["fit64"])
    fit_book = bench_fit(data, BOOK_BATCH_SIZE, n["warmup"], n["fit_book"])
    sweep_rate = bench_sweep(data, SWEEP_K, max(2, n["warmup"] // 4), n["sweep"])
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "device": str(dev),
        "device_description": machine_description(dev),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mode": "quick" if quick else "full",
        "steps": n,
        "book_batch_size": BOOK_BATCH_SIZE,
        "sweep_k": SWEEP_K,
        "loader_samples_per_s": loader,
        "fit_bs64_samples_per_s": fit64,
        f"fit_bs{BOOK_BATCH_SIZE}_samples_per_s": fit_book,
        "sweep_model_samples_per_s": sweep_rate,
        "ratio_fit_vs_loader": fit64 / loader,
        "ratio_sweep_vs_fit": sweep_rate / fit64,
        "load_average_1min": load,
        "bench_seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d"),
    }


def format_table(result: dict) -> str:
    """The result as a plain-text table."""
    bs = result["book_batch_size"]
    rows = [
        ("(a) DataLoader loop, batch 64", result["loader_samples_per_s"], "samples/s"),
        ("(b) fit, batch 64", result["fit_bs64_samples_per_s"], "samples/s"),
        (f"(b) fit, batch {bs}", result[f"fit_bs{bs}_samples_per_s"], "samples/s"),
        (f"(c) sweep, K={result['sweep_k']}, batch 64", result["sweep_model_samples_per_s"], "model-samples/s"),
    ]
    lines = [f"device: {result['device']} — {result['device_description']}"]
    lines += [f"{name:<34}{value:>12,.0f}  {unit}" for name, value, unit in rows]
    lines.append(f"{'fit / DataLoader (batch 64)':<34}{result['ratio_fit_vs_loader']:>12.2f}x")
    lines.append(f"{'sweep / fit (per model, batch 64)':<34}{result['ratio_sweep_vs_fit']:>12.2f}x")
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
