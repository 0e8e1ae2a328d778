"""Build the book: ``python tools/build_book.py [--path-output DIR]``.

Runs ``jupyter-book build`` with ``-n -W --keep-going`` so that a failing cell or any Sphinx
warning fails the build (myst-nb writes the failing cell's report under
``<output>/_build/html/reports``).

The execution cache (``execute_notebooks: cache``) keys each chapter on its own text only; it
cannot see that a function in ``regutils`` changed. This script therefore records a hash of
the ``regutils`` source beside the cache and empties the cache when the hash differs, so a
changed ``regutils`` can never leave stale outputs in the built pages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from regutils import fileio  # noqa: E402  (standard library only: no torch import)
FLAGS = ["-n", "-W", "--keep-going"]


def source_hash(package: Path = ROOT / "regutils") -> str:
    """sha256 over the path and bytes of every ``.py`` file in ``package`` and of the data files
    it ships (``data_files/``, which chapters read), in sorted order (see regutils.fileio).

    The whole package counts here (a figure change re-executes the chapters); the result
    cache of trained networks keys on the training code only.
    """
    return fileio.source_hash(package, data_folder="data_files")


def invalidate_stale_cache(build_dir: Path) -> bool:
    """Empty ``build_dir/.jupyter_cache`` if ``regutils`` changed since the last build.

    Returns True when ``regutils`` changed (or no build recorded its hash yet): the caller
    then rebuilds every page.
    """
    cache = build_dir / ".jupyter_cache"
    stamp = build_dir / ".regutils-source-hash"
    current = source_hash()
    stale = not stamp.exists() or stamp.read_text().strip() != current
    if stale and cache.exists():
        shutil.rmtree(cache)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return stale


def cpu_precision_note(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """One line on what the CPU means for the build's speed (read from the CPU flags, no torch).

    regutils itself decides the precision from torch's CPU checks (regutils.hardware); this only
    tells a person waiting for the build what to expect.
    """
    try:
        flags = set(next(
            (line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines() if line.startswith("flags")),
            [],
        ))
    except OSError:
        return "CPU flags unknown: training precision is chosen by regutils.hardware"
    if flags & {"avx512_bf16", "amx_bf16"}:
        return "this CPU does bfloat16 natively: the network chapters train in bf16 autocast"
    return (
        "this CPU has no native bfloat16 (no AVX512-BF16 or AMX): without a GPU the network "
        "chapters train in float32, about 2.5 times slower than on a CPU that has it; each "
        "chapter is reported as it finishes executing"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--path-output",
        type=Path,
        default=ROOT,
        help="folder that receives _build/ (default: the repository root)",
    )
    args = parser.parse_args(argv)
    out = args.path_output.resolve()
    # Progress bars are for people watching a notebook run; on a built page they are litter.
    os.environ.setdefault("REGUTILS_PROGRESS", "0")
    print(cpu_precision_note(), flush=True)
    stale = invalidate_stale_cache(out / "_build")
    if stale:
        print("regutils changed since the last build: execution cache emptied, every page rebuilt", flush=True)
    cmd = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(ROOT),
        *FLAGS,
        # Sphinx re-reads only the pages whose text changed; after a change to regutils every
        # page must be read (and so executed) again, or unchanged pages keep stale outputs
        *(["--all"] if stale else []),
        "--path-output",
        str(out),
    ]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
