"""The data layer: the generated regression CSV, its validation, MNIST mirror and loading."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import regutils as ru
from regutils import data as rd

# ---------------------------------------------------------------------------------------------
# generated regression dataset


def test_generated_dataset_is_deterministic_and_shaped():
    a, coef_a = ru.make_regression_data()
    b, coef_b = ru.make_regression_data()
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_series_equal(coef_a, coef_b)
    assert list(a.columns) == [f"x{i}" for i in range(48)] + ["y"]
    assert a.shape == (100, 49)
    other, _ = ru.make_regression_data(seed=1)
    assert not np.allclose(a.to_numpy(), other.to_numpy())


def test_generated_dataset_has_the_documented_structure():
    frame, coef = ru.make_regression_data()
    # sparse support: 14 non-zeros, blocks 0 and 1 and x24..x29
    support = [name for name, value in coef.items() if value != 0]
    assert support == [f"x{i}" for i in range(8)] + [f"x{i}" for i in range(24, 30)]
    # correlated blocks: within-block correlation high, across blocks and independents low
    corr = frame.drop(columns="y").corr().to_numpy()
    for block in range(6):
        cols = slice(4 * block, 4 * block + 4)
        within = corr[cols, cols][~np.eye(4, dtype=bool)]
        assert within.min() > 0.85
    independent = corr[24:, 24:][~np.eye(24, dtype=bool)]
    assert np.abs(independent).max() < 0.4
    # the noise is what the docstring says: residual sd of the true model is close to 2
    # (x = mean + scale*z, so X @ (beta/scale) = z @ beta + a constant, which the sd ignores;
    # here 1.75: the sd of 100 draws is within 0.2 * 2 of sigma = 2 up to 2.8 standard errors)
    resid = frame["y"] - 5 - frame.drop(columns="y").to_numpy() @ coef.to_numpy()
    assert resid.std(ddof=1) == pytest.approx(2.0, rel=0.2)
    # the documented beta on the standardized z: beta_j = coef_j * scale_j, and sd(x_j)
    # estimates scale_j to about 7 % (100 rows); 25 % is 3.5 standard errors (worst here: 16 %)
    documented = {**{f"x{i}": 1.5 for i in range(4)}, **{f"x{i}": -1.0 for i in range(4, 8)},
                  "x24": 3.0, "x25": -2.5, "x26": 2.0, "x27": -1.5, "x28": 1.0, "x29": -0.75}
    sd = frame.drop(columns="y").std(ddof=1)
    for name, beta in documented.items():
        assert coef[name] * sd[name] == pytest.approx(beta, rel=0.25), name
    # features on very different scales: scale_j log-uniform on [0.2, 5]
    assert sd.min() > 0.2 * 0.7 and sd.max() < 5 * 1.3 and sd.max() / sd.min() > 10


def test_write_is_atomic_exact_and_never_overwrites(tmp_path):
    path = ru.write_regression_csv(tmp_path / "d.csv")
    frame, _ = ru.make_regression_data()
    back = ru.read_regression_csv(path)
    np.testing.assert_array_equal(back.to_numpy(), frame.to_numpy())  # full precision round trip
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        ru.write_regression_csv(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.csv"]  # no temporary left behind


def test_load_regression_generates_once_and_splits_without_leakage(tmp_path):
    path = tmp_path / "data.csv"
    data = ru.load_regression(path)
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    again = ru.load_regression(path)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(data.X_train, again.X_train)

    # independent answer: redo the split and scaling by hand with scikit-learn
    frame, coef = ru.make_regression_data()
    X, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=42)
    scaler = StandardScaler().fit(X_tr)
    np.testing.assert_allclose(data.X_train, scaler.transform(X_tr))
    np.testing.assert_allclose(data.X_test, scaler.transform(X_te))
    np.testing.assert_array_equal(data.y_test, y_te)
    assert data.X_train.shape == (80, 48) and data.X_test.shape == (20, 48)
    # the scaler saw training rows only: training columns are exactly centred, test ones are not
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    assert np.abs(data.X_test.mean(axis=0)).max() > 0.05
    np.testing.assert_array_equal(data.true_coef, coef.to_numpy())
    assert list(data.groups[:8]) == [0, 0, 0, 0, 1, 1, 1, 1] and data.groups[30] == -1


def test_generated_dataset_makes_least_squares_overfit(tmp_path):
    data = ru.load_regression(tmp_path / "d.csv")
    ols = LinearRegression().fit(data.X_train, data.y_train)
    train_mse = np.mean((ols.predict(data.X_train) - data.y_train) ** 2)
    test_mse = np.mean((ols.predict(data.X_test) - data.y_test) ** 2)
    assert test_mse > 2 * train_mse
    assert test_mse > 4.0 * 1.2  # well above the noise variance 2² = 4


def test_users_csv_is_accepted_without_true_coefficients(tmp_path, rng):
    frame = pd.DataFrame(rng.normal(size=(30, 48)), columns=[f"x{i}" for i in range(48)])
    frame["y"] = rng.normal(size=30)
    path = tmp_path / "mine.csv"
    frame[["y", *reversed(frame.columns[:-1])]].to_csv(path, index=False)  # any column order
    data = ru.load_regression(path, generate=False)
    assert data.X_train.shape == (24, 48)
    assert data.true_coef is None and data.groups is None


# ---------------------------------------------------------------------------------------------
# bad regression input: each names the problem


def _write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _valid_frame(n=12):
    frame = pd.DataFrame(np.arange(n * 48, dtype=float).reshape(n, 48), columns=[f"x{i}" for i in range(48)])
    frame["y"] = np.arange(n, dtype=float)
    return frame


def test_missing_file_without_generation(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path)) + ".*generate=True"):
        ru.load_regression(path, generate=False)
    assert not path.exists()


def test_empty_file(tmp_path):
    with pytest.raises(ValueError, match="bad.csv: the file is empty"):
        ru.load_regression(_write(tmp_path, ""), generate=False)


def test_header_only(tmp_path):
    header = ",".join([f"x{i}" for i in range(48)] + ["y"]) + "\n"
    path = _write(tmp_path, header)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: the file has a header but no data rows$"):
        ru.load_regression(path, generate=False)


def test_no_y_column(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame().drop(columns="y").to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: no 'y' column \\(found x0, x1, x2, x3, x4, x5…\\)$"):
        ru.load_regression(path, generate=False)


def test_missing_feature_columns(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame().drop(columns=["x3", "x40"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: missing feature column\\(s\\) x3, x40$"):
        ru.load_regression(path, generate=False)


def test_extra_columns(tmp_path):
    path = tmp_path / "bad.csv"
    frame = _valid_frame()
    frame["x48"] = 1.0
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: unexpected column\\(s\\) x48; expected x0…x47 and y$"):
        ru.load_regression(path, generate=False)


def test_duplicated_columns(tmp_path):
    header = ",".join([f"x{i}" for i in range(48)] + ["y", "x5"])
    row = ",".join(["1"] * 50)
    with pytest.raises(ValueError, match="duplicated column\\(s\\) x5"):
        ru.load_regression(_write(tmp_path, "\n".join([header] + [row] * 12) + "\n"), generate=False)


def test_non_numeric_value_names_column_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    frame = _valid_frame().astype(object)
    frame.loc[6, "x17"] = "abc"
    frame.loc[9, "x17"] = "def"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="column 'x17', line 8 \\(data row 7\\): 'abc' is not a number"):
        ru.load_regression(path, generate=False)


def test_blank_cell_is_not_a_number(tmp_path):
    path = tmp_path / "bad.csv"
    frame = _valid_frame().astype(object)
    frame.loc[0, "y"] = ""
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="column 'y', line 2 \\(data row 1\\): '' is not a number"):
        ru.load_regression(path, generate=False)


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_nan_and_inf(tmp_path, bad):
    path = tmp_path / "bad.csv"
    frame = _valid_frame().astype(object)
    frame.loc[3, "x0"] = bad
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"column 'x0', line 5 \\(data row 4\\): '{bad}' is not finite"):
        ru.load_regression(path, generate=False)


def test_too_few_rows_for_the_split(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame(n=2).to_csv(path, index=False)
    with pytest.raises(ValueError, match="2 data row\\(s\\); a 80%/20% train/test split needs at least 3"):
        ru.load_regression(path, generate=False)
    _valid_frame(n=3).to_csv(path, index=False)
    assert ru.load_regression(path, generate=False).X_test.shape == (1, 48)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_size": 1.5}, "test_size must be a finite number in (0, 1), got 1.5"),
        ({"test_size": 0}, "test_size must be a finite number in (0, 1), got 0"),
        ({"test_size": float("nan")}, "test_size must be a finite number in (0, 1), got nan"),
        ({"random_state": 1.0}, "random_state must be an integer >= 0, got 1.0"),
        ({"generate": "yes"}, "generate must be True or False, got 'yes'"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ru.load_regression(tmp_path / "d.csv", **kwargs)
    assert not (tmp_path / "d.csv").exists()
    with pytest.raises(ValueError, match=re.escape("seed must be an integer >= 0, got -1")):
        ru.write_regression_csv(tmp_path / "d.csv", seed=-1)
    assert list(tmp_path.iterdir()) == []


def _unchanged(path, before):
    """The file at ``path`` still holds ``before`` and nothing else appeared beside it."""
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_not_utf8_names_file_line_and_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    lines = _valid_frame().to_csv(index=False).split("\n")
    lines[2] = "caf\u00e9" + lines[2][lines[2].index(",") :]  # line 3 starts "café,"
    path.write_bytes("\n".join(lines).encode("latin-1"))  # é is one byte, 0xe9: invalid UTF-8
    with pytest.raises(UnicodeDecodeError):  # what pandas alone says, naming no file
        pd.read_csv(path)
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        ru.load_regression(path, generate=False)
    message = str(info.value)
    assert message.startswith(f"{path}: not UTF-8 text: byte 0xe9 at line 3, column 4 cannot be decoded")
    assert "Save it as UTF-8" in message
    _unchanged(path, before)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(_valid_frame().to_csv(index=False).encode("utf-8-sig"))  # Excel's "CSV UTF-8"
    np.testing.assert_array_equal(ru.read_regression_csv(path).to_numpy(), _valid_frame().to_numpy())


def test_binary_file_is_not_csv(tmp_path):
    path = _write(tmp_path, "")
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)))  # what an .xlsx starts with
    with pytest.raises(ValueError, match=re.escape(f"{path}: a binary file (a spreadsheet workbook?), not CSV")):
        ru.read_regression_csv(path)


@pytest.mark.parametrize("sep, word", [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
def test_other_delimiter_is_named(tmp_path, sep, word):
    path = tmp_path / "bad.csv"
    _valid_frame().to_csv(path, index=False, sep=sep, decimal="," if sep == ";" else ".")
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        ru.load_regression(path, generate=False)
    message = str(info.value)
    assert f"{path}: the header has no commas but 48 {word} ({sep!r})" in message
    assert f"uses {sep!r} as its delimiter" in message and f"pd.read_csv(path, sep={sep!r})" in message
    _unchanged(path, before)


def test_saved_pandas_index_is_recognized(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame().to_csv(path)  # the default: index=True writes an unnamed first column
    before = path.read_bytes()
    with pytest.raises(ValueError) as info:
        ru.load_regression(path, generate=False)
    message = str(info.value)
    assert message.startswith(f"{path}: the first column has no name and holds 0, 1, 2, …")
    assert "looks like a saved pandas index" in message
    assert "to_csv(path, index=False)" in message and "pd.read_csv(path, index_col=0)" in message
    _unchanged(path, before)
    # the fix the message gives works
    pd.read_csv(path, index_col=0).to_csv(path, index=False)
    assert ru.load_regression(path, generate=False).X_train.shape == (9, 48)


def test_unnamed_column_elsewhere(tmp_path):
    frame = _valid_frame()
    text = frame.to_csv(index=False).replace(",x7,", ",,", 1)
    with pytest.raises(ValueError, match=re.escape("bad.csv: column 8 has no name in the header")):
        ru.load_regression(_write(tmp_path, text), generate=False)


def test_short_row_names_its_line(tmp_path):
    lines = _valid_frame().to_csv(index=False).splitlines()
    lines[4] = ",".join(lines[4].split(",")[:47])
    with pytest.raises(ValueError, match=re.escape("bad.csv: line 5 has 47 field(s), the header has 49")):
        ru.load_regression(_write(tmp_path, "\n".join(lines) + "\n"), generate=False)


@pytest.mark.parametrize("column, value", [("x5", 1e300), ("x5", -1.7e308), ("y", 1e300)])
def test_values_too_large_to_standardize_name_the_column(tmp_path, column, value):
    path = tmp_path / "big.csv"
    frame = _valid_frame()
    frame.loc[[1, 2, 7], column] = [value, -value, value]
    frame.to_csv(path, index=False, float_format="%.17g")
    # the independent answer: scikit-learn's scaler, left alone, raises nothing, yet the column
    # it returns is not standardized (its variance overflowed: NaN, or left unscaled)
    if column != "y":
        X = frame.drop(columns="y").to_numpy()
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scaled = StandardScaler().fit_transform(X)
            assert not np.isclose(np.std(scaled[:, 5]), 1.0)
        np.testing.assert_allclose(np.std(scaled[:, :5], axis=0), 1.0)
    with pytest.raises(ValueError) as info:
        ru.load_regression(path, generate=False)
    message = str(info.value)
    assert message.startswith(f"{path}: column(s) {column}: values too large to standardize in float64")
    assert f"largest magnitude in {column!r}: {abs(value):.3g}" in message


def test_symlink_at_csv_path_is_never_replaced(tmp_path):
    target = tmp_path / "elsewhere" / "mine.csv"  # does not exist: a dangling link
    link = tmp_path / "data.csv"
    link.symlink_to(target)
    for call in (lambda: ru.load_regression(link), lambda: ru.load_regression(link, generate=False)):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert str(info.value).startswith(f"{link} is a symbolic link to {target}, which does not exist")
        assert "a generated file never replaces a link" in str(info.value)
    with pytest.raises(FileExistsError, match=re.escape(f"{link} is a symbolic link to {target}, which does not")):
        ru.write_regression_csv(link)
    assert link.is_symlink() and os.readlink(link) == str(target) and not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
    # a link to an existing CSV is read through, and still never replaced
    target.parent.mkdir()
    _valid_frame().to_csv(target, index=False)
    before = target.read_bytes()
    assert ru.load_regression(link).true_coef is None
    with pytest.raises(FileExistsError, match="is a symbolic link to .*refusing to replace the link"):
        ru.write_regression_csv(link)
    assert link.is_symlink() and target.read_bytes() == before


def test_read_regression_csv_of_a_folder_or_nothing(tmp_path):
    with pytest.raises(ValueError, match=f"^{re.escape(str(tmp_path))}: a folder, not a CSV file$"):
        ru.read_regression_csv(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(str(tmp_path / 'none.csv'))}: no such file$"):
        ru.read_regression_csv(tmp_path / "none.csv")
    for not_a_path, kind in ((None, "NoneType"), (3, "int"), ([str(tmp_path)], "list")):
        with pytest.raises(ValueError, match=rf"^path must be the CSV file's path \(a str or os.PathLike\), got {kind}$"):
            ru.read_regression_csv(not_a_path)
    assert list(tmp_path.iterdir()) == []


def test_data_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REGUTILS_DATA_DIR", str(tmp_path))
    assert ru.data_dir() == tmp_path
    monkeypatch.delenv("REGUTILS_DATA_DIR")
    assert ru.data_dir() == rd._REPO / "data"


# ---------------------------------------------------------------------------------------------
# device


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("REGUTILS_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert ru.device().type == expected
    monkeypatch.setenv("REGUTILS_DEVICE", "cpu")
    assert ru.device() == torch.device("cpu")


def test_device_bad_values(monkeypatch):
    monkeypatch.setenv("REGUTILS_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="REGUTILS_DEVICE='gpu0' is not a torch device"):
        ru.device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="name='cuda:0': device type 'cuda' is not available"):
            ru.device("cuda:0")
    with pytest.raises(ValueError, match="^name must be a torch.device or a device string"):
        ru.device(0)
    assert ru.device(torch.device("cpu")) == torch.device("cpu")  # a device passes as itself


def test_device_index_beyond_the_devices_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("REGUTILS_DEVICE", "cuda:2")
    with pytest.raises(ValueError) as info:
        ru.device()
    assert str(info.value) == "REGUTILS_DEVICE='cuda:2': there is no cuda device 2 (2 present, numbered from 0)"
    with pytest.raises(ValueError, match=re.escape("name='cuda:7': there is no cuda device 7 (2 present")):
        ru.device("cuda:7")
    monkeypatch.setenv("REGUTILS_DEVICE", "cuda:1")
    assert ru.device() == torch.device("cuda", 1)  # the last one present is fine (nothing allocated)


# ---------------------------------------------------------------------------------------------
# MNIST files: mirror, checksums, errors (tiny synthetic IDX files)


def test_mirror_gz_is_extracted_and_verified(tmp_path, tiny_idx):
    mirror, files, raw_bytes = tiny_idx
    raw = ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    assert raw == tmp_path / "root" / "MNIST" / "raw"
    for name, content in raw_bytes.items():
        assert (raw / name).read_bytes() == content
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)  # no temporaries


def test_mirror_from_environment_with_uncompressed_files(tmp_path, tiny_idx, monkeypatch):
    mirror, files, raw_bytes = tiny_idx
    plain = tmp_path / "plain"
    plain.mkdir()
    for name, content in raw_bytes.items():
        (plain / name).write_bytes(content)
    monkeypatch.setenv("REGUTILS_MNIST_MIRROR", str(plain))
    raw = ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    assert all((raw / name).read_bytes() == content for name, content in raw_bytes.items())


def test_checksum_mismatch_leaves_nothing(tmp_path, tiny_idx):
    mirror, files, _ = tiny_idx
    name = "t10k-images-idx3-ubyte"
    wrong = dict(files)
    wrong[name] = (files[name][0], hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(ValueError, match=f"{name}.gz: sha256 of the uncompressed bytes is {files[name][1]}"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=wrong, download=False)
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert not (raw / name).exists()
    assert not any(p.name.endswith(".part") for p in raw.iterdir())


def _corrupt_deflate(data: bytes) -> bytes:
    """A gzip file with a valid header whose deflate stream is damaged (zlib.error on reading)."""
    packed = bytearray(gzip.compress(data))
    packed[10:14] = b"\xff\xff\xff\xff"  # the first bytes after the 10-byte header: invalid block type
    return bytes(packed)


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda data: b"not gzip at all", "not a gzip file"),
        (_corrupt_deflate, "the compressed data is corrupt (zlib: Error -3"),
        (lambda data: gzip.compress(data)[:-30], "the compressed stream ends early"),
    ],
    ids=["not-gzip", "corrupt-deflate", "truncated"],
)
def test_unreadable_mirror_file_leaves_nothing(tmp_path, tiny_idx, damage, why):
    mirror, files, raw_bytes = tiny_idx
    source = mirror / "train-labels-idx1-ubyte.gz"
    source.write_bytes(damage(raw_bytes["train-labels-idx1-ubyte"]))
    with pytest.raises(ValueError) as info:
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    message = str(info.value)
    assert message.startswith(f"{source}: cannot be read as an IDX file: {why}")
    assert "Replace it with a good copy (nothing was written to" in message
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert not (raw / "train-labels-idx1-ubyte").exists()
    assert not any(p.name.endswith(".part") for p in raw.iterdir())
    # the files before it in the mirror's order arrived whole and verified
    assert (raw / "train-images-idx3-ubyte").read_bytes() == raw_bytes["train-images-idx3-ubyte"]


def test_failed_write_is_not_blamed_on_the_mirror(tmp_path, tiny_idx, monkeypatch):
    mirror, files, _ = tiny_idx
    from regutils import fileio

    monkeypatch.setattr(fileio.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    assert list((tmp_path / "root" / "MNIST" / "raw").iterdir()) == []


def test_mirror_missing_a_file_writes_nothing(tmp_path, tiny_idx):
    mirror, files, _ = tiny_idx
    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    assert not (tmp_path / "root" / "MNIST" / "raw").exists()


@pytest.mark.parametrize("mirror_set", [False, True])
def test_truncated_file_in_place_is_named_and_kept(tmp_path, tiny_idx, monkeypatch, mirror_set):
    mirror, files, raw_bytes = tiny_idx
    monkeypatch.delenv("REGUTILS_MNIST_MIRROR", raising=False)
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, content in raw_bytes.items():
        (raw / name).write_bytes(content)
    name = "train-images-idx3-ubyte"
    (raw / name).write_bytes(raw_bytes[name][:1000])  # a user's interrupted copy
    size = files[name][0]
    for download in (False, True):  # no download is tried either way
        with pytest.raises(ValueError) as info:
            ru.prepare_mnist_raw(
                tmp_path / "root", files=files, download=download, mirror=mirror if mirror_set else None
            )
        message = str(info.value)
        assert message.startswith(
            f"{raw / name}: 1,000 bytes, expected {size:,} (the uncompressed IDX file): it is truncated"
        )
        assert "Delete it and call load_mnist() again" in message and "nothing was changed" in message
        assert "download failed" not in message
    assert (raw / name).read_bytes() == raw_bytes[name][:1000]
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)
    (raw / name).unlink()  # what the message says to do
    with pytest.raises(FileNotFoundError, match="downloading is off"):
        ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    assert ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False, mirror=mirror) == raw
    assert (raw / name).read_bytes() == raw_bytes[name]


def test_same_size_other_file_in_place_is_named(tmp_path, tiny_idx):
    mirror, files, raw_bytes = tiny_idx
    raw = ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    name = "t10k-labels-idx1-ubyte"
    other = raw_bytes[name][:-1] + bytes([(raw_bytes[name][-1] + 1) % 10])  # one label changed
    (raw / name).write_bytes(other)
    with pytest.raises(ValueError, match=re.escape(f"{raw / name}: sha256 {hashlib.sha256(other).hexdigest()}")):
        ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    assert (raw / name).read_bytes() == other


def test_mirror_folder_missing(tmp_path, tiny_idx):
    _, files, _ = tiny_idx
    with pytest.raises(FileNotFoundError, match="REGUTILS_MNIST_MIRROR=.*nowhere: no such folder"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=tmp_path / "nowhere", files=files, download=False)


def test_no_mirror_no_download_says_what_to_do(tmp_path, tiny_idx, monkeypatch):
    _, files, _ = tiny_idx
    monkeypatch.delenv("REGUTILS_MNIST_MIRROR", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    message = str(info.value)
    assert "downloading is off" in message
    assert "connect to the internet" in message
    assert "set REGUTILS_MNIST_MIRROR" in message
    assert str(tmp_path / "root" / "MNIST" / "raw") in message


def test_failed_download_says_why_and_what_to_do(tmp_path, tiny_idx, monkeypatch):
    import torchvision.datasets

    _, files, _ = tiny_idx
    monkeypatch.delenv("REGUTILS_MNIST_MIRROR", raising=False)

    def offline(root, train, download):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    raw = tmp_path / "root" / "MNIST" / "raw"
    with pytest.raises(FileNotFoundError) as info:
        ru.prepare_mnist_raw(tmp_path / "root", files=files, download=True)
    message = str(info.value)
    assert message.startswith(
        f"MNIST is not in {raw} and the download failed (RuntimeError: Error downloading train-images-idx3-ubyte.gz)."
    )
    assert "set REGUTILS_MNIST_MIRROR" in message


def test_corrupt_download_is_named_and_removed(tmp_path, tiny_idx, monkeypatch):
    import torchvision.datasets

    _, files, raw_bytes = tiny_idx
    monkeypatch.delenv("REGUTILS_MNIST_MIRROR", raising=False)
    raw = tmp_path / "root" / "MNIST" / "raw"
    bad = "train-labels-idx1-ubyte"
    damaged = raw_bytes[bad][:-1] + bytes([(raw_bytes[bad][-1] + 1) % 10])

    def download(root, train, download):  # what torchvision leaves behind, one label changed
        raw.mkdir(parents=True, exist_ok=True)
        for name, content in raw_bytes.items():
            (raw / name).write_bytes(damaged if name == bad else content)

    monkeypatch.setattr(torchvision.datasets, "MNIST", download)
    with pytest.raises(ValueError) as info:
        ru.prepare_mnist_raw(tmp_path / "root", files=files, download=True)
    assert str(info.value) == (
        f"{raw / bad}: sha256 {hashlib.sha256(damaged).hexdigest()}, expected {files[bad][1]}: the download is "
        "corrupt; the file was removed (call load_mnist() again to download it anew)"
    )
    assert not (raw / bad).exists()


def test_files_already_in_place_are_used(tmp_path, tiny_idx, monkeypatch):
    mirror, files, raw_bytes = tiny_idx
    ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    monkeypatch.setenv("REGUTILS_MNIST_MIRROR", str(tmp_path / "nowhere"))  # not consulted
    raw = ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == raw_bytes["t10k-labels-idx1-ubyte"]


def test_load_mnist_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="val_size must be an integer in \\[1, 59999\\], got 60000"):
        ru.load_mnist(tmp_path, val_size=60_000)
    with pytest.raises(ValueError, match="seed must be an integer, got 0.5"):
        ru.load_mnist(tmp_path, seed=0.5)
    with pytest.raises(ValueError, match="download must be True or False, got 'no'"):
        ru.prepare_mnist_raw(tmp_path, download="no")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# real MNIST through the mirror


@pytest.mark.slow
def test_load_mnist_from_mirror(tmp_path, mnist_mirror):
    data = ru.load_mnist(tmp_path, device="cpu")
    assert data.X_train.shape == (48_000, 784) and data.X_train.dtype == torch.float32
    assert data.X_val.shape == (12_000, 784) and data.X_test.shape == (10_000, 784)
    assert data.y_train.dtype == torch.int64
    # the README's label counts for the official test set
    assert torch.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # normalized once with the training-set constants: over all 60k rows mean 0 and std 1
    full = torch.cat([data.X_train, data.X_val])
    assert full.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert full.std().item() == pytest.approx(1.0, abs=1e-3)
    counts = torch.bincount(torch.cat([data.y_train, data.y_val])).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    # the split is a fixed draw; a different seed gives a different one; the memo returns the same object
    assert ru.load_mnist(tmp_path, device="cpu") is data
    other = ru.load_mnist(tmp_path, device="cpu", seed=1)
    assert not torch.equal(other.y_val, data.y_val)
    images = ru.MNISTData.images(data.X_test[:2])
    assert images.shape == (2, 28, 28) and 0 <= images.min() and images.max() <= 1
    small = data.subset(500, seed=3)
    assert small.X_train.shape == (500, 784) and small.spec["subset_seed"] == 3
    assert torch.equal(small.X_val, data.X_val)
    with pytest.raises(ValueError, match="n_train must be an integer in \\[1, 48000\\]"):
        data.subset(0)
