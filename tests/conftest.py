"""Shared fixtures: a seeded rng, tiny synthetic IDX files, the MNIST mirror, the built book."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format MNIST uses (magic 0x0000 08 <ndim>, big-endian dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_idx(tmp_path, rng):
    """A mirror folder with four tiny MNIST-layout IDX files, gzip-compressed.

    Returns (mirror folder, files dict name -> (size, sha256), raw bytes by name).
    """
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3),
    }
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files, raw = {}, {}
    for name, array in arrays.items():
        data = idx_bytes(array)
        raw[name] = data
        files[name] = (len(data), hashlib.sha256(data).hexdigest())
        (mirror / f"{name}.gz").write_bytes(gzip.compress(data))
    return mirror, files, raw


@pytest.fixture
def mnist_mirror():
    """The real MNIST mirror folder named by REGUTILS_MNIST_MIRROR (CI sets it)."""
    path = os.environ.get("REGUTILS_MNIST_MIRROR")
    if not path or not Path(path).is_dir():
        pytest.skip("REGUTILS_MNIST_MIRROR does not name a folder with MNIST")
    return Path(path)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The ``_build`` folder of the whole book, built once per session with the README's flags.

    tests/test_book.py checks its pages and figures, tests/test_browser.py drives it in a
    browser. ``REGUTILS_BUILT_BOOK=_build`` uses a build that ``make book`` just made instead
    (the publishing workflow tests the very site it deploys, without building it twice).
    """
    given = os.environ.get("REGUTILS_BUILT_BOOK")
    if given:
        build = Path(given).resolve()
        assert (build / "html" / "index.html").is_file(), f"REGUTILS_BUILT_BOOK={given}: no site"
        return build
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_book.py"), "--path-output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    reports = out / "_build" / "html" / "reports"
    if reports.is_dir():
        for report in sorted(reports.glob("*.err.log")):
            log += f"\n--- {report.name}\n{report.read_text()}"
    assert proc.returncode == 0, log[-20000:]
    return out / "_build"


@pytest.fixture(autouse=True)
def _unit_tests_train_in_fp32(monkeypatch):
    """Unit tests compare trained numbers with torch.optim's to float32 tolerances, so they
    train in float32 even on hardware where the book would pick bfloat16 (a CPU with
    AVX512-BF16 or AMX, a GPU); tests of the precision choice set their own value."""
    monkeypatch.setenv("REGUTILS_PRECISION", "fp32")
