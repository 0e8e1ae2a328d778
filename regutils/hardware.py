"""The device the book trains on, the arithmetic precision it trains in, and how to describe both.

One place decides both, so every chapter, the benchmark and the result cache agree:

* :func:`regutils.device`: ``$REGUTILS_DEVICE`` or the best available (CUDA, Apple MPS, the CPU);
* :func:`precision`: ``"bf16"`` (bfloat16 autocast, float32 weights and optimizer state) where
  the hardware does bfloat16 arithmetic natively — a CUDA GPU that supports it, or a CPU with
  AVX512-BF16 or AMX, as the CPU's own feature flags report them — and ``"fp32"`` elsewhere,
  where bfloat16 would be emulated and slower than float32. ``$REGUTILS_PRECISION`` overrides;
* :func:`describe`: the one-line banner the chapters print ("trained on …");
* :func:`flush_subnormals_`: what a training step on the CPU does every
  :data:`FLUSH_EVERY` steps (:func:`flush_due` says when), so that weights decayed towards
  zero do not slow it down.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

import torch

from .checks import check_options

__all__ = [
    "device", "precision", "native_bf16", "describe", "PRECISIONS", "autocast",
    "flush_subnormals_", "flush_due", "FLUSH_EVERY",
]

DEVICE_ENV = "REGUTILS_DEVICE"
PRECISION_ENV = "REGUTILS_PRECISION"
PRECISIONS = ("fp32", "bf16")
#: Optimizer steps between two calls of :func:`flush_subnormals_` in a training loop on the CPU.
FLUSH_EVERY = 16


def device(name: torch.device | str | None = None) -> torch.device:
    """The torch device the book trains on.

    Order: ``name`` if given, else ``$REGUTILS_DEVICE`` if set (e.g. ``cpu``, ``cuda``,
    ``cuda:1``, ``mps``), else CUDA if available, else Apple MPS if available, else the CPU.

    Raises
    ------
    ValueError
        If the requested device is neither a ``torch.device`` nor a device string, its type
        is not available here, or its index is beyond the devices present (``cuda:3`` on a
        one-GPU machine).
    """
    if name is None:
        source, requested = DEVICE_ENV, os.environ.get(DEVICE_ENV, "").strip()
        if not requested:
            if torch.cuda.is_available():
                return torch.device("cuda")
            if torch.backends.mps.is_available():
                return torch.device("mps")
            return torch.device("cpu")
    else:
        source, requested = "name", name
    dev = _as_device(source, requested)
    count = {
        "cpu": 1,
        "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "mps": 1 if torch.backends.mps.is_available() else 0,
    }.get(dev.type, 0)
    if count == 0:
        raise ValueError(f"{source}={requested!r}: device type {dev.type!r} is not available here")
    if dev.index is not None and dev.index >= count:
        raise ValueError(
            f"{source}={requested!r}: there is no {dev.type} device {dev.index} "
            f"({count} present, numbered from 0)"
        )
    return dev


def _as_device(name: str, dev) -> torch.device:
    """``dev`` (a ``torch.device`` or a string such as ``"cpu"`` or ``"cuda:0"``) as a
    ``torch.device``; anything else is a ``ValueError`` naming ``name``."""
    if isinstance(dev, torch.device):
        return dev
    if isinstance(dev, str):
        try:
            return torch.device(dev)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"{name}={dev!r} is not a torch device ({exc})") from None
    raise ValueError(
        f"{name} must be a torch.device or a device string such as 'cpu' or 'cuda:0', "
        f"got {type(dev).__name__}"
    )


def native_bf16(dev: torch.device | str) -> bool:
    """True if ``dev`` does bfloat16 matrix arithmetic in hardware.

    CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and newer). CPU: the AVX512-BF16 or AMX
    feature flag, as torch's cpuinfo reads it from CPUID (``torch.cpu._is_avx512_bf16_supported``,
    ``torch.cpu._is_amx_tile_supported``). Not oneDNN's bfloat16 check, which also counts
    AVX-512 without BF16 (Skylake to Ice Lake), where bfloat16 is emulated. Other devices: False.

    Raises
    ------
    ValueError
        If ``dev`` is neither a ``torch.device`` nor a device string.
    """
    return _native_bf16(_as_device("dev", dev))


@lru_cache(maxsize=None)
def _native_bf16(dev: torch.device) -> bool:
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if dev.type == "cpu":
        try:
            return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        except (AttributeError, RuntimeError):  # a torch without these checks: assume none
            return False
    return False


def precision(requested: str | None = None, dev: torch.device | None = None) -> str:
    """The precision training uses: ``"fp32"`` or ``"bf16"``.

    ``requested`` if given; else ``$REGUTILS_PRECISION`` if set; else ``"auto"``. ``"auto"``
    picks ``"bf16"`` where :func:`native_bf16` holds for ``dev`` (default: :func:`regutils.device`),
    else ``"fp32"``. An explicit ``"bf16"`` is honoured even where it is emulated.
    """
    source = "precision" if requested is not None else PRECISION_ENV
    value = requested if requested is not None else os.environ.get(PRECISION_ENV, "").strip() or "auto"
    check_options(source, value, ("auto", *PRECISIONS))
    if value != "auto":
        return value
    return "bf16" if native_bf16(_as_device("dev", dev) if dev is not None else device()) else "fp32"


def autocast(dev: torch.device, prec: str):
    """The context manager a training step runs under: bf16 autocast, or nothing for fp32.

    Raises
    ------
    ValueError
        If ``dev`` is not a device (see :func:`native_bf16`) or ``prec`` is not ``"fp32"``
        or ``"bf16"``.
    """
    dev = _as_device("dev", dev)
    check_options("prec", prec, PRECISIONS)
    return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=prec == "bf16")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(dev: torch.device | None = None, prec: str | None = None) -> str:
    """One line naming the device, its threads or memory, and the precision, for banners.

    For example ``"CPU: AMD EPYC, 2 torch threads, fp32 (no native bfloat16)"`` or
    ``"GPU: NVIDIA H100 80GB HBM3 (79 GiB), bf16 autocast"``.
    """
    dev = _as_device("dev", dev) if dev is not None else device()
    prec = precision(prec, dev)
    how = "bf16 autocast" if prec == "bf16" else "fp32"
    if prec == "fp32" and not native_bf16(dev):
        how += " (no native bfloat16)"
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GiB), {how}"
    if dev.type == "cpu":
        return f"CPU: {_cpu_name()}, {torch.get_num_threads()} torch threads, {how}"
    return f"{dev.type}, {how}"


def flush_due(dev: torch.device, step: int) -> bool:
    """Whether a training loop on ``dev`` flushes subnormal values after optimizer step ``step``
    (counted from 1): on the CPU every :data:`FLUSH_EVERY` steps, on a GPU never (see
    :func:`flush_subnormals_`). :func:`regutils.fit` and :func:`regutils.sweep` both ask here.
    """
    return dev.type == "cpu" and step % FLUSH_EVERY == 0


@torch.no_grad()
def flush_subnormals_(tensors) -> None:
    """Set every subnormal (denormal) value of the floating-point ``tensors`` to zero, in place.

    Coupled L2 with Adam drives a weight that gets no gradient from the data (the weights
    of a unit that no longer fires) towards zero geometrically, and within about 2,000 steps
    into float32's subnormal range (below 1.2e-38), where it stays: Adam's update underflows
    there. On many x86 CPUs every multiplication with a subnormal operand takes a slow path
    (a 400 x 400 matrix product with subnormal weights: 60 times slower on an Intel Xeon), so
    the full-data networks trained three times slower from their tenth epoch on. The CPU's own
    flush-to-zero mode (``torch.set_flush_denormal``) reaches only the calling thread, not
    the threads that compute the matrix products. A value below 1.2e-38 contributes nothing
    a float32 network can use, so the training loops zero them every :data:`FLUSH_EVERY`
    steps on the CPU, in the weights and the optimizer state; on a GPU nothing is done.
    """
    for t in tensors:
        if t.is_floating_point():
            t.masked_fill_(t.abs() < torch.finfo(t.dtype).tiny, 0.0)
