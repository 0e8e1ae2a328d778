"""The data layer: the generated regression CSV, its validation, MNIST mirror and loading."""

from __future__ import annotations

import hashlib
import re

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
    resid = frame["y"] - 5 - frame.drop(columns="y").to_numpy() @ coef.to_numpy()
    # x = mean + scale*z, so X @ (beta/scale) = z @ beta + sum(mean*beta/scale): remove that offset
    assert resid.std(ddof=1) == pytest.approx(2.0, rel=0.2)


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
    with pytest.raises(ValueError, match="header but no data rows"):
        ru.load_regression(_write(tmp_path, header), generate=False)


def test_no_y_column(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame().drop(columns="y").to_csv(path, index=False)
    with pytest.raises(ValueError, match="no 'y' column"):
        ru.load_regression(path, generate=False)


def test_missing_feature_columns(tmp_path):
    path = tmp_path / "bad.csv"
    _valid_frame().drop(columns=["x3", "x40"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing feature column\\(s\\) x3, x40"):
        ru.load_regression(path, generate=False)


def test_extra_columns(tmp_path):
    path = tmp_path / "bad.csv"
    frame = _valid_frame()
    frame["x48"] = 1.0
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="unexpected column\\(s\\) x48"):
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


def test_bad_test_size(tmp_path):
    with pytest.raises(ValueError, match="test_size must be in \\(0, 1\\)"):
        ru.load_regression(tmp_path / "d.csv", test_size=1.5)
    assert not (tmp_path / "d.csv").exists()


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


def test_corrupt_gzip_leaves_nothing(tmp_path, tiny_idx):
    mirror, files, _ = tiny_idx
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: cannot be read as an IDX file"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert not (raw / "train-labels-idx1-ubyte").exists()
    assert not any(p.name.endswith(".part") for p in raw.iterdir())


def test_mirror_missing_a_file(tmp_path, tiny_idx):
    mirror, files, _ = tiny_idx
    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"):
        ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)


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


def test_files_already_in_place_are_used(tmp_path, tiny_idx, monkeypatch):
    mirror, files, raw_bytes = tiny_idx
    ru.prepare_mnist_raw(tmp_path / "root", mirror=mirror, files=files, download=False)
    monkeypatch.setenv("REGUTILS_MNIST_MIRROR", str(tmp_path / "nowhere"))  # not consulted
    raw = ru.prepare_mnist_raw(tmp_path / "root", files=files, download=False)
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == raw_bytes["t10k-labels-idx1-ubyte"]


def test_load_mnist_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="val_size must be an integer in \\[1, 59999\\]"):
        ru.load_mnist(tmp_path, val_size=60_000)


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
