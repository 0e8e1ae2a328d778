"""Datasets the chapters share: the 48-feature regression CSV and MNIST.

Everything here validates its input and fails with a ``ValueError`` or ``FileNotFoundError``
that names the file, column, row or parameter at fault (and ``FileExistsError`` where writing
would replace an existing file or a symlink). Files are written atomically (a
temporary file in the same folder, then ``os.replace``), so an error never leaves a partial
file behind.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import os
import re
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .checks import check_bool, check_int, check_real
from .fileio import atomic_write_bytes, sha256_file

if TYPE_CHECKING:  # torch is imported lazily: the regression chapters never need it
    import torch
    from sklearn.preprocessing import StandardScaler

# ---------------------------------------------------------------------------------------------
# Where files live

_REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The folder that holds generated and downloaded data.

    ``$REGUTILS_DATA_DIR`` if set; otherwise the repository's ``data/`` folder when ``regutils``
    runs from a checkout; otherwise ``./data`` under the current directory (for example after a
    plain ``pip install`` in Colab).
    """
    env = os.environ.get("REGUTILS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    if (_REPO / "data" / "README.md").is_file():
        return _REPO / "data"
    return Path.cwd() / "data"


# ---------------------------------------------------------------------------------------------
# The 48-feature regression dataset

N_FEATURES = 48
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
REGRESSION_CSV = "regularization_dataset.csv"

# Generative process (seed 42). Kept as named constants so data/README.md and the
# docstring below describe exactly what the code does.
_N_SAMPLES = 100
_N_BLOCKS, _BLOCK_SIZE = 6, 4  # x0..x23: six blocks of four correlated features
_BLOCK_RHO = 0.95  # correlation between two features of one block
_NOISE_SD = 2.0
_INTERCEPT = 5.0
# true coefficients on the *standardized* latent features z
_TRUE_Z_COEF = {
    **{f"x{i}": 1.5 for i in range(0, 4)},  # block 0: all four active, same sign
    **{f"x{i}": -1.0 for i in range(4, 8)},  # block 1: all four active, same sign
    "x24": 3.0,
    "x25": -2.5,
    "x26": 2.0,
    "x27": -1.5,
    "x28": 1.0,
    "x29": -0.75,
}


def _feature_groups() -> np.ndarray:
    groups = np.full(N_FEATURES, -1)
    groups[: _N_BLOCKS * _BLOCK_SIZE] = np.repeat(np.arange(_N_BLOCKS), _BLOCK_SIZE)
    return groups


def make_regression_data(seed: int = 42) -> tuple[pd.DataFrame, pd.Series]:
    """Generate the book's 48-feature regression dataset (pure function: nothing is written).

    Generative process, with ``rng = numpy.random.default_rng(seed)``:

    1. Latent features ``z`` (100 rows × 48). For ``x0``…``x23`` (six blocks of four), each
       block shares a factor: ``z_j = sqrt(rho) * f_block + sqrt(1 - rho) * e_j`` with
       ``rho = 0.95``, all terms standard normal, so two features of one block correlate
       with about 0.95. ``x24``…``x47`` are independent standard normals.
    2. Observed features ``x_j = mean_j + scale_j * z_j`` with ``mean_j ~ N(0, 3²)`` and
       ``scale_j ~ LogUniform(0.2, 5)``: features on very different scales, so
       standardizing matters before any penalty.
    3. ``y = 5 + z @ beta + eps`` with ``eps ~ N(0, 2²)``. ``beta`` is sparse: 14 of 48
       entries are non-zero — all four features of block 0 (``x0``…``x3``, +1.5 each), all
       four of block 1 (``x4``…``x7``, −1.0 each) and six independent features
       ``x24``…``x29`` (3, −2.5, 2, −1.5, 1, −0.75).

    With 80 training rows for 48 features, least squares has few residual degrees of freedom
    and overfits; the sparse ``beta`` lets the lasso recover the support; the correlated
    active blocks show the difference between the lasso (picks one of a block) and the
    elastic net (keeps the block).

    Returns
    -------
    frame : DataFrame
        Columns ``x0``…``x47`` and ``y``, 100 rows.
    true_coef : Series
        The coefficients in the units of the observed columns (``beta_j / scale_j``), indexed by
        feature name. Non-zero entries are the true support.
    """
    check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    n_blocked = _N_BLOCKS * _BLOCK_SIZE
    factors = rng.standard_normal((_N_SAMPLES, _N_BLOCKS))
    own = rng.standard_normal((_N_SAMPLES, N_FEATURES))
    z = own.copy()
    z[:, :n_blocked] = np.sqrt(_BLOCK_RHO) * np.repeat(factors, _BLOCK_SIZE, axis=1) + np.sqrt(
        1 - _BLOCK_RHO
    ) * own[:, :n_blocked]
    means = rng.normal(0.0, 3.0, N_FEATURES)
    scales = np.exp(rng.uniform(np.log(0.2), np.log(5.0), N_FEATURES))
    beta = np.array([_TRUE_Z_COEF.get(name, 0.0) for name in FEATURES])
    y = _INTERCEPT + z @ beta + rng.normal(0.0, _NOISE_SD, _N_SAMPLES)
    frame = pd.DataFrame(means + scales * z, columns=FEATURES)
    frame["y"] = y
    return frame, pd.Series(beta / scales, index=FEATURES, name="true_coef")


def write_regression_csv(path: str | os.PathLike | None = None, *, seed: int = 42) -> Path:
    """Write the generated dataset to ``path`` (default ``data_dir()/regularization_dataset.csv``).

    Never overwrites: an existing file raises ``FileExistsError``, and so does a symbolic link
    at ``path``, even one whose target does not exist (the link is the user's; a generated
    file never replaces it). The write is atomic. Values are written with full precision
    (``%.17g``), so reading the file back gives exactly the generated numbers.
    """
    check_int("seed", seed, 0)
    path = Path(path) if path is not None else data_dir() / REGRESSION_CSV
    if path.is_symlink():
        raise FileExistsError(f"{_link_problem(path)}; refusing to replace the link with a generated file")
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it")
    frame, _ = make_regression_data(seed)
    text = frame.to_csv(index=False, float_format="%.17g").encode()
    atomic_write_bytes(path, lambda fh: fh.write(text))
    return path


def _link_problem(path: Path) -> str:
    """``"<path> is a symbolic link to <target>[, which does not exist]"``."""
    target = os.readlink(path)
    return f"{path} is a symbolic link to {target}" + ("" if path.exists() else ", which does not exist")


def read_regression_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a regression CSV: columns ``x0``…``x47`` and ``y``, all finite numbers.

    The file must be UTF-8 text (a byte-order mark is accepted) with commas between fields.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (or is a symbolic link to nothing).
    ValueError
        Naming the problem: not UTF-8 (line and byte), another delimiter (which one), empty
        file, a row with too few fields, an unnamed column (the index ``DataFrame.to_csv()``
        writes by default), no ``y`` column, missing or unexpected feature columns, a
        non-numeric value (column and first bad data row, counting the header as line 1 so the
        row number matches a text editor's line), or a NaN/infinite value; ``path`` that is
        not a path at all.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be the CSV file's path (a str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(f"{_link_problem(path)}; point the link at your CSV or remove it")
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not a CSV file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    columns, frame = _read_table(path)
    _check_columns(path, columns, frame)
    out = {}
    for col in [*FEATURES, "y"]:
        raw = frame[col].str.strip()
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & ~raw.str.lower().isin(["nan", "-nan", "+nan"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}: column {col!r}, line {i + 2} (data row {i + 1}): "
                f"{raw.iloc[i]!r} is not a number"
            )
        nonfinite = ~np.isfinite(values.to_numpy(dtype=float))
        if nonfinite.any():
            i = int(np.flatnonzero(nonfinite)[0])
            raise ValueError(
                f"{path}: column {col!r}, line {i + 2} (data row {i + 1}): "
                f"{raw.iloc[i]!r} is not finite (NaN or infinity)"
            )
        out[col] = values.to_numpy(dtype=float)
    return pd.DataFrame(out)


# Delimiters people's tools write instead of commas, with the word a message uses.
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars", " ": "spaces"}


def _decode(path: Path) -> str:
    """The file's text; a ``ValueError`` naming line and byte if it is not UTF-8."""
    blob = path.read_bytes()
    if b"\0" in blob[:4096] or blob.startswith(b"PK\x03\x04"):
        raise ValueError(
            f"{path}: a binary file (a spreadsheet workbook?), not CSV text; "
            "export it as CSV UTF-8 (comma delimited)"
        )
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = blob[: exc.start].count(b"\n") + 1
        column = exc.start - (blob.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(
            f"{path}: not UTF-8 text: byte 0x{blob[exc.start]:02x} at line {line}, column {column} "
            "cannot be decoded (the file was probably saved as Latin-1 or Windows-1252). Save it "
            "as UTF-8 (Excel: 'CSV UTF-8'; pandas: to_csv(path, index=False, encoding='utf-8'))"
        ) from None


def _read_table(path: Path) -> tuple[list[str], pd.DataFrame]:
    """Header and data rows of a comma-separated UTF-8 file, all cells as stripped strings."""
    text = _decode(path)
    header = text.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")
    if "," not in header:
        found = {sep: header.count(sep) for sep in _OTHER_DELIMITERS if header.count(sep)}
        if found:
            sep = max(found, key=found.get)
            raise ValueError(
                f"{path}: the header has no commas but {found[sep]} {_OTHER_DELIMITERS[sep]} ({sep!r}): "
                f"the file uses {sep!r} as its delimiter, and this reader expects commas. Convert it, "
                f"e.g. pd.read_csv(path, sep={sep!r}).to_csv(path, index=False) "
                "(add decimal=',' if its numbers are written 1,5)"
            )
    _check_widths(path, text)
    try:
        # header=None: pandas would rename a duplicated column ("x5.1") instead of reporting it
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: not a valid CSV ({exc})") from None
    if len(table) < 2:
        raise ValueError(f"{path}: the file has a header but no data rows")
    columns = [str(c).strip() for c in table.iloc[0]]
    frame = table.iloc[1:].reset_index(drop=True)
    frame.columns = columns
    return columns, frame


def _check_widths(path: Path, text: str) -> None:
    """Every non-blank line has as many fields as the header (pandas pads short rows silently)."""
    reader = csv.reader(io.StringIO(text))
    width = None
    for row in reader:
        if not row:
            continue  # a blank line; pandas skips those too
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(f"{path}: line {reader.line_num} has {len(row)} field(s), the header has {width}")


def _check_columns(path: Path, columns: list[str], frame: pd.DataFrame) -> None:
    """Raise a ``ValueError`` unless the columns are exactly ``x0``…``x47`` and ``y`` (any order)."""
    unnamed = [i for i, c in enumerate(columns) if c == "" or re.fullmatch(r"Unnamed: \d+", c)]
    if unnamed and unnamed[0] == 0:
        first = frame.iloc[:3, 0].str.strip().tolist()
        holds = f" and holds {', '.join(first)}, …" if first else ""
        raise ValueError(
            f"{path}: the first column has no name{holds}: it looks like a saved pandas index "
            "(DataFrame.to_csv() writes one unless told not to). Save the frame with "
            "to_csv(path, index=False), or drop the column: "
            "pd.read_csv(path, index_col=0).to_csv(path, index=False)"
        )
    if unnamed:
        raise ValueError(f"{path}: column {unnamed[0] + 1} has no name in the header; expected x0…x47 and y")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicated column(s) {', '.join(dupes)}")
    if "y" not in columns:
        raise ValueError(f"{path}: no 'y' column (found {', '.join(columns[:6])}{'…' if len(columns) > 6 else ''})")
    missing = [c for c in FEATURES if c not in columns]
    if missing:
        raise ValueError(f"{path}: missing feature column(s) {', '.join(missing)}")
    extra = [c for c in columns if c not in FEATURES and c != "y"]
    if extra:
        raise ValueError(f"{path}: unexpected column(s) {', '.join(extra)}; expected x0…x47 and y")


@dataclass(frozen=True, eq=False)
class RegressionData:
    """A standardized train/test split of a regression CSV.

    The scaler is fit on the training rows only and then applied to both parts, so nothing
    about the test rows leaks into training. Targets are left in their own units.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    true_coef: np.ndarray | None
    """Generator's coefficients in observed-feature units (``None`` for other data)."""
    groups: np.ndarray | None
    """Block id of each feature (``-1``: independent); ``None`` for other data."""
    scaler: "StandardScaler"
    path: Path


def _min_rows(test_size: float) -> int:
    """Fewest rows for which the split leaves >= 1 test row and >= 2 training rows."""
    n = 3
    while math.ceil(test_size * n) < 1 or n - math.ceil(test_size * n) < 2:
        n += 1
    return n


def load_regression(
    path: str | os.PathLike | None = None,
    *,
    generate: bool = True,
    test_size: float = 0.2,
    random_state: int = 42,
) -> RegressionData:
    """Load a regression CSV as a standardized train/test split.

    Parameters
    ----------
    path
        The CSV (default ``data_dir()/regularization_dataset.csv``).
    generate
        If the file does not exist, generate the book's dataset there (seed 42). With
        ``generate=False`` a missing file is a ``FileNotFoundError``. An existing file is never
        overwritten, and a symbolic link is never replaced (a dangling one is a
        ``FileNotFoundError`` naming its target).
    test_size, random_state
        Passed to :func:`sklearn.model_selection.train_test_split` (80/20, seed 42 by default).

    Returns
    -------
    RegressionData
        ``true_coef`` and ``groups`` are filled in when the file holds exactly the generated
        dataset; for any other data they are ``None``.

    Raises
    ------
    ValueError
        For a bad argument, a bad file (see :func:`read_regression_csv`), too few rows for the
        split, or a column whose values are too large to standardize in float64.
    """
    from sklearn.model_selection import train_test_split

    check_bool("generate", generate)
    check_real("test_size", test_size, 0, 1, closed="neither")
    check_int("random_state", random_state, 0)
    path = Path(path) if path is not None else data_dir() / REGRESSION_CSV
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"{_link_problem(path)}; point the link at your CSV or remove it "
            "(a generated file never replaces a link)"
        )
    if not path.exists():
        if not generate:
            raise FileNotFoundError(
                f"{path}: no such file (pass generate=True to create the book's dataset there)"
            )
        write_regression_csv(path)
    frame = read_regression_csv(path)
    need = _min_rows(test_size)
    if len(frame) < need:
        raise ValueError(
            f"{path}: {len(frame)} data row(s); a {1 - test_size:.0%}/{test_size:.0%} "
            f"train/test split needs at least {need}"
        )
    generated, coef = make_regression_data()
    is_generated = frame.shape == generated.shape and np.array_equal(
        frame.to_numpy(), generated.to_numpy()
    )
    X = frame[FEATURES].to_numpy()
    y = frame["y"].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    scaler, X_train_std, X_test_std = _standardize(path, X_train, X_test, y)
    return RegressionData(
        X_train=X_train_std,
        X_test=X_test_std,
        y_train=y_train,
        y_test=y_test,
        feature_names=list(FEATURES),
        true_coef=coef.to_numpy() if is_generated else None,
        groups=_feature_groups() if is_generated else None,
        scaler=scaler,
        path=path,
    )


def _standardize(path: Path, X_train: np.ndarray, X_test: np.ndarray, y: np.ndarray):
    """Fit a ``StandardScaler`` on the training rows; return it and both parts scaled.

    Finite values can still be too large for float64 arithmetic: the variance of a column
    holding 1e300 overflows, and the scaler then returns NaN, or the column unscaled, without
    an error. That is caught
    here and reported by column (``y`` included: every loss squares it), rather than left to
    surface as a NaN coefficient far from its cause.
    """
    from sklearn.preprocessing import StandardScaler

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings: reported below
        scaler = StandardScaler().fit(X_train)
        train, test = scaler.transform(X_train), scaler.transform(X_test)
        y_ok = bool(np.isfinite(np.var(y)))
    # an infinite variance is not an error for the scaler: it silently keeps a scale of 1
    ok = np.isfinite(scaler.mean_) & np.isfinite(scaler.var_) & np.isfinite(scaler.scale_)
    ok &= np.isfinite(train).all(axis=0) & np.isfinite(test).all(axis=0)
    bad = [FEATURES[j] for j in np.flatnonzero(~ok)] + ([] if y_ok else ["y"])
    if bad:
        column = np.vstack([X_train, X_test])[:, FEATURES.index(bad[0])] if bad[0] != "y" else y
        raise ValueError(
            f"{path}: column(s) {', '.join(bad)}: values too large to standardize in float64 "
            f"(largest magnitude in {bad[0]!r}: {np.abs(column).max():.3g}; its variance "
            "overflows). Rescale those columns (e.g. divide by a power of ten) and save the file again"
        )
    return scaler, train, test


# ---------------------------------------------------------------------------------------------
# MNIST

#: Mean pixel intensity of MNIST's 60,000 training images (intensities in [0, 1]);
#: :func:`regutils.load_mnist` standardizes every pixel ``x`` to ``(x - MNIST_MEAN) / MNIST_STD``.
MNIST_MEAN = 0.1307
#: Standard deviation of those pixel intensities.
MNIST_STD = 0.3081

# sha256 of the *uncompressed* IDX files, with their sizes in bytes
MNIST_FILES = {
    "train-images-idx3-ubyte": (
        47_040_016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        60_008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        7_840_016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        10_008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
MIRROR_ENV = "REGUTILS_MNIST_MIRROR"


_VERIFIED: set[tuple] = set()  # (path, size, mtime) of in-place files whose sha256 matched


def _raw_files_ok(raw: Path, files: dict[str, tuple[int, str]]) -> bool:
    """True if every file is in ``raw`` and verified; False if any is missing.

    A file that is there but wrong — the wrong size (truncated by an interrupted download or
    copy) or the right size with other bytes (Fashion-MNIST has the same names and sizes) — is
    a ``ValueError`` naming it; it is left untouched, never replaced or deleted behind the
    user's back. The sha256 of a file is checked once per process (about 0.1 s for MNIST).
    """
    complete = True
    for name, (size, expected) in files.items():
        path = raw / name
        if not path.is_file():
            complete = False
            continue
        stat = path.stat()
        fix = (
            "Delete it and call load_mnist() again (it is then copied from the mirror or "
            "downloaded anew), or put a good copy there; nothing was changed"
        )
        if stat.st_size != size:
            what = "truncated (an interrupted download or copy?)" if stat.st_size < size else "too long"
            raise ValueError(
                f"{path}: {stat.st_size:,} bytes, expected {size:,} (the uncompressed IDX file): "
                f"it is {what} or not that MNIST file. {fix}"
            )
        stamp = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if stamp not in _VERIFIED:
            got = sha256_file(path)
            if got != expected:
                raise ValueError(
                    f"{path}: sha256 {got}, expected {expected}: the right size but not that MNIST "
                    f"file (Fashion-MNIST uses the same names and sizes). {fix}"
                )
            _VERIFIED.add(stamp)
    return complete


def _install_from_mirror(mirror: Path, raw: Path, files: dict[str, tuple[int, str]]) -> None:
    """Copy (and gunzip) each IDX file from ``mirror`` into ``raw``, verifying its sha256.

    Every source is located before anything is written, and each file is written with
    :func:`~regutils.fileio.atomic_write_bytes`, moved into place only after its checksum
    matched: a missing, unreadable, corrupt or wrong file in the mirror leaves nothing behind.
    """
    if not mirror.is_dir():
        raise FileNotFoundError(f"{MIRROR_ENV}={mirror}: no such folder")
    sources = {}
    for name in files:
        plain, packed = mirror / name, mirror / f"{name}.gz"
        if plain.is_file():
            sources[name] = (plain, open)
        elif packed.is_file():
            sources[name] = (packed, gzip.open)
        else:
            raise FileNotFoundError(
                f"{MIRROR_ENV}={mirror}: neither {name} nor {name}.gz is in that folder"
            )
    for name, (_, expected) in files.items():
        source, opener = sources[name]
        atomic_write_bytes(raw / name, _verified_copy(source, opener, expected, raw))


def _verified_copy(source: Path, opener, expected: str, raw: Path):
    """A ``write(fileobj)`` for :func:`atomic_write_bytes`: copy ``source``, then check its sha256.

    Errors reading ``source`` (not gzip, a corrupt or truncated compressed stream, an OS error)
    and a checksum mismatch are ``ValueError`` naming ``source``; errors writing the target
    propagate as they are, so a full disk is not blamed on the mirror.
    """

    def chunks():
        try:
            with opener(source, "rb") as src:
                while chunk := src.read(1 << 20):
                    yield chunk
        except gzip.BadGzipFile as exc:
            why = f"not a gzip file ({exc})"
        except EOFError:
            why = "the compressed stream ends early (a truncated download?)"
        except zlib.error as exc:
            why = f"the compressed data is corrupt (zlib: {exc})"
        except OSError as exc:
            why = f"{type(exc).__name__}: {exc}"
        else:
            return
        raise ValueError(
            f"{source}: cannot be read as an IDX file: {why}. Replace it with a good copy "
            f"(nothing was written to {raw})"
        )

    def write(out):
        digest = hashlib.sha256()
        for chunk in chunks():
            digest.update(chunk)
            out.write(chunk)
        got = digest.hexdigest()
        if got != expected:
            raise ValueError(
                f"{source}: sha256 of the uncompressed bytes is {got}, expected {expected}; "
                "the file is corrupt or not MNIST (nothing was written)"
            )

    return write


def _verify_raw(raw: Path, files: dict[str, tuple[int, str]]) -> None:
    """Check sha256 of files that arrived by download; delete and raise on a mismatch."""
    for name, (_, expected) in files.items():
        got = sha256_file(raw / name)
        if got != expected:
            (raw / name).unlink()
            raise ValueError(
                f"{raw / name}: sha256 {got}, expected {expected}: the download is corrupt; "
                "the file was removed (call load_mnist() again to download it anew)"
            )


def prepare_mnist_raw(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirror: str | os.PathLike | None = None,
    files: dict[str, tuple[int, str]] | None = None,
) -> Path:
    """Make sure the four MNIST IDX files are in ``<root>/MNIST/raw/``; return that folder.

    Order: files already there are checked (size and sha256) and used as they are; else the
    offline mirror (``mirror`` or ``$REGUTILS_MNIST_MIRROR``: a folder with the four files,
    ``.gz`` or not) is copied and extracted; else torchvision downloads them
    (``download=True``). Files that arrive are verified by the sha256 of their uncompressed
    bytes (see ``data/README.md``).

    ``files`` maps file name to (size, sha256); it defaults to the real MNIST and exists so
    tests can use small synthetic IDX files.

    Raises
    ------
    FileNotFoundError
        If the files are not there, no mirror is set, and downloading is off or failed; the
        message lists the three ways to get them.
    ValueError
        If a file already in ``raw`` has the wrong size or checksum (named, left untouched),
        or a mirror or downloaded file is unreadable or has the wrong checksum (named, not kept).
    """
    check_bool("download", download)
    files = MNIST_FILES if files is None else files
    root = Path(root) if root is not None else data_dir()
    raw = root / "MNIST" / "raw"
    if _raw_files_ok(raw, files):
        return raw
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is not None:
        _install_from_mirror(Path(mirror).expanduser(), raw, files)
        return raw
    reason = "downloading is off (download=False)"
    if download:
        from torchvision import datasets

        try:
            for train in (True, False):
                datasets.MNIST(root, train=train, download=True)
            _verify_raw(raw, files)
            return raw
        except (OSError, RuntimeError) as exc:
            reason = f"the download failed ({type(exc).__name__}: {exc})"
    raise FileNotFoundError(
        f"MNIST is not in {raw} and {reason}. Three ways to get it:\n"
        "  1. connect to the internet and call load_mnist() again (torchvision downloads it);\n"
        f"  2. set {MIRROR_ENV} to a folder holding the four IDX files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte; .gz or not);\n"
        f"  3. place those four uncompressed files in {raw} yourself."
    )


@dataclass(frozen=True, eq=False)
class MNISTData:
    """MNIST held once in memory as tensors on one device.

    Images are flattened to 784 float32 values normalized as ``(x / 255 - 0.1307) / 0.3081``
    (done once, here, not per batch); labels are int64.
    """

    X_train: "torch.Tensor"
    y_train: "torch.Tensor"
    X_val: "torch.Tensor"
    y_val: "torch.Tensor"
    X_test: "torch.Tensor"
    y_test: "torch.Tensor"
    spec: dict = field(default_factory=dict)
    """A plain, JSON-able description of the data (name, sizes, seeds), used in cache keys."""

    @property
    def device(self) -> "torch.device":
        return self.X_train.device

    def subset(self, n_train: int, *, seed: int = 0, n_val: int | None = None) -> "MNISTData":
        """The same test set with ``n_train`` random training rows (a draw seeded by ``seed``).

        ``n_val`` keeps only the first ``n_val`` validation rows: a cheaper per-epoch check
        when the training set is small (evaluating 12,000 rows after each epoch of 1,000
        would cost more than the epoch). ``spec`` records both, so cached results of
        different subsets never mix.
        """
        import torch

        total = len(self.y_train)
        check_int("n_train", n_train, 1, total)
        check_int("seed", seed)
        check_int("n_val", n_val, 1, len(self.y_val), allow_none=True)
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(total, generator=g)[:n_train].to(self.device)
        spec = {**self.spec, "n_train": n_train, "subset_seed": seed}
        val = {}
        if n_val is not None:
            val = {"X_val": self.X_val[:n_val], "y_val": self.y_val[:n_val]}
            spec["n_val_used"] = n_val
        return replace(self, X_train=self.X_train[idx], y_train=self.y_train[idx], spec=spec, **val)

    def with_label_noise(self, fraction: float, *, seed: int = 0, classes: int = 10) -> "MNISTData":
        """A copy whose *training* labels are corrupted: ``round(fraction * n)`` rows, chosen at
        random, get a label drawn uniformly from the ``classes - 1`` wrong classes.

        Validation and test labels stay clean: the noise models a badly labelled training
        set, and selection and evaluation measure the true task (Zhang et al. 2017).
        """
        import torch

        check_real("fraction", fraction, 0, 1)
        check_int("seed", seed)
        check_int("classes", classes, 2)
        n = len(self.y_train)
        g = torch.Generator().manual_seed(seed)
        rows = torch.randperm(n, generator=g)[: round(fraction * n)]
        shift = torch.randint(1, classes, (len(rows),), generator=g)
        y = self.y_train.cpu().clone()
        y[rows] = (y[rows] + shift) % classes  # never the true class
        spec = {**self.spec, "label_noise": float(fraction), "noise_seed": seed}
        return replace(self, y_train=y.to(self.device), spec=spec)

    @staticmethod
    def images(X: "torch.Tensor") -> "torch.Tensor":
        """Undo the normalization: ``[N, 784]`` rows back to ``[N, 28, 28]`` pixels in [0, 1]."""
        return (X * MNIST_STD + MNIST_MEAN).clamp(0, 1).reshape(-1, 28, 28)


_MNIST_MEMO: dict[tuple, MNISTData] = {}


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    device=None,
    val_size: int = 12_000,
    seed: int = 0,
    download: bool = True,
) -> MNISTData:
    """MNIST as tensors on ``device``: 48,000 training, 12,000 validation, 10,000 test images.

    The validation rows are a fixed random draw (``torch.Generator`` seeded with ``seed``) from
    the 60,000 official training images; the test set is the official 10,000. Files come from
    ``<root>/MNIST/raw`` (see :func:`prepare_mnist_raw` for the mirror and download). Repeated
    calls in one process return the same tensors without reading the files again.
    """
    import torch

    from .hardware import device as pick_device

    dev = pick_device(None if device is None else str(device))
    check_int("val_size", val_size, 1, 59_999)
    check_int("seed", seed)
    root = Path(root) if root is not None else data_dir()
    key = (str(root.resolve()), str(dev), val_size, seed)
    if key in _MNIST_MEMO:
        return _MNIST_MEMO[key]
    prepare_mnist_raw(root, download=download)
    from torchvision import datasets

    def tensors(train: bool):
        ds = datasets.MNIST(root, train=train, download=False)
        X = ds.data.reshape(len(ds.data), -1).to(dev, torch.float32)
        X = (X / 255.0 - MNIST_MEAN) / MNIST_STD
        return X, ds.targets.to(dev, torch.int64)

    X_all, y_all = tensors(True)
    X_test, y_test = tensors(False)
    perm = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(seed)).to(dev)
    val, train = perm[:val_size], perm[val_size:]
    data = MNISTData(
        X_train=X_all[train],
        y_train=y_all[train],
        X_val=X_all[val],
        y_val=y_all[val],
        X_test=X_test,
        y_test=y_test,
        spec={"name": "mnist", "n_train": len(train), "val_size": val_size, "split_seed": seed, "subset_seed": None},
    )
    _MNIST_MEMO[key] = data
    return data
