"""The on-disk result cache: hits skip training, any change of input misses, writes are atomic."""

import hashlib
import importlib.util
import io
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

import regutils as ru
from regutils import cache
from regutils.models import MLP

from _engine_fixtures import synthetic_mnist

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = (16,)
FIT = dict(epochs=1, lr=1e-3, batch_size=128, progress=False)


@pytest.fixture(scope="module")
def data():
    return synthetic_mnist(n_train=256, n_val=128, n_test=64)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REGUTILS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("REGUTILS_CACHE", raising=False)
    return tmp_path / "cache"


def forbid_training(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("trained although the result was cached")

    monkeypatch.setattr(sys.modules["regutils.training"], "_train", boom)
    monkeypatch.setattr(sys.modules[ru.sweep.__module__], "_train_chunk", boom)


def test_fit_hit_returns_history_and_weights_without_training(data, cache_dir, monkeypatch):
    first = MLP(hidden=HIDDEN, seed=0)
    h1 = ru.fit(first, data, cache=True, **FIT)
    assert not h1.cached and len(list(cache_dir.glob("*.pt"))) == 1
    forbid_training(monkeypatch)
    second = MLP(hidden=HIDDEN, seed=0)
    h2 = ru.fit(second, data, cache=True, **FIT)
    assert h2.cached
    assert {**h2.to_dict(), "cached": False} == h1.to_dict()
    for k, v in first.state_dict().items():
        assert torch.equal(second.state_dict()[k], v)


@pytest.mark.parametrize(
    "change",
    [
        {"fit": {"lr": 2e-3}},
        {"fit": {"seed": 1}},
        {"model": {"seed": 1}},  # other initial weights
        {"model": {"p": 0.1}},
        {"data": 1},
    ],
)
def test_any_change_of_input_is_a_miss(data, cache_dir, change):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    d = synthetic_mnist(n_train=256, n_val=128, n_test=64, seed=1) if "data" in change else data
    model = MLP(hidden=HIDDEN, **{"seed": 0, **change.get("model", {})})
    h = ru.fit(model, d, cache=True, **{**FIT, **change.get("fit", {})})
    assert not h.cached and len(list(cache_dir.glob("*.pt"))) == 2


def test_source_change_changes_the_key(data, monkeypatch):
    key = cache.make_key("fit", {"a": 1}, data)
    monkeypatch.setattr(cache, "source_hash", lambda: "0" * 64)
    assert cache.make_key("fit", {"a": 1}, data) != key


def test_source_hash_covers_the_training_code_only(tmp_path):
    """Editing training code changes the key; a figure module or a docstring does not."""
    from regutils import fileio

    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "regutils", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = fileio.code_hash(pkg, fileio.TRAINING_SOURCES)
    assert before == cache.source_hash()
    (pkg / "widgets.py").write_text((pkg / "widgets.py").read_text() + "\nX = 1\n")
    assert fileio.code_hash(pkg, fileio.TRAINING_SOURCES) == before
    text = (pkg / "training.py").read_text()
    edited = text.replace('"""The training loop', '"""The training loop (edited docstring)', 1)
    (pkg / "training.py").write_text(edited + "\n# a comment\n")
    assert edited != text and fileio.code_hash(pkg, fileio.TRAINING_SOURCES) == before
    (pkg / "training.py").write_text(text.replace("step += 1", "step += 2", 1))
    assert fileio.code_hash(pkg, fileio.TRAINING_SOURCES) != before
    (pkg / "stacked.py").unlink()
    with pytest.raises(FileNotFoundError, match="stacked.py: no such module"):
        fileio.code_hash(pkg, fileio.TRAINING_SOURCES)


def test_env_switch_disables_cache(data, cache_dir, monkeypatch):
    monkeypatch.setenv("REGUTILS_CACHE", "0")
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    h = ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    assert not h.cached and not cache_dir.exists()


@pytest.mark.parametrize("value, on", [("off", False), (" No ", False), ("true", True), ("", True), ("1", True)])
def test_env_switch_words(monkeypatch, value, on):
    monkeypatch.setenv("REGUTILS_CACHE", value)
    assert cache.enabled() is on


def test_env_switch_typo_is_an_error(data, cache_dir, monkeypatch):
    monkeypatch.setenv("REGUTILS_CACHE", "of")
    with pytest.raises(ValueError, match=re.escape("REGUTILS_CACHE must be one of 0, false, no, off, 1, true, yes, on (or unset), got 'of'")):
        ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    assert not cache_dir.exists()


def test_no_cache_unless_asked(data, cache_dir):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, **FIT)
    assert not cache_dir.exists()


def test_sweep_hit(data, cache_dir, monkeypatch):
    configs = [{"p": 0.1}, {"weight_decay": 1e-3, "seed": 2}]
    kw = dict(epochs=1, batch_size=128, hidden=HIDDEN, progress=False, cache=True)
    r1 = ru.sweep(configs, data, **kw)
    forbid_training(monkeypatch)
    r2 = ru.sweep(configs, data, **kw)
    assert r2.cached and not r1.cached and r2.chunks == r1.chunks
    for i in range(2):
        assert r2.histories[i].val_loss == r1.histories[i].val_loss and r2.histories[i].cached
        for k, v in r1.model(i).state_dict().items():
            assert torch.equal(r2.model(i).state_dict()[k], v)


def _warned_about(entry, reason):
    return pytest.warns(RuntimeWarning, match=re.escape(f"result cache: ignoring {entry}: {reason}"))


def test_atomic_write_and_corrupt_entry_is_a_miss(data, cache_dir):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    (entry,) = cache_dir.glob("*.pt")
    assert [p.name for p in cache_dir.iterdir()] == [entry.name], "no temporary files left behind"
    entry.write_bytes(b"not a torch file")
    with _warned_about(entry, "not a regutils cache entry (no header line)"):
        h = ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    assert not h.cached
    assert cache.load(entry.stem, required=cache.REQUIRED["fit"]) is not None, "the bad entry was replaced"


def test_entry_file_is_header_plus_torch_bytes_with_their_sha256(cache_dir):
    """The format load() verifies, checked from the bytes with hashlib and torch alone."""
    path = cache.save("a" * 64, {"w": torch.arange(3.0)})
    header, body = path.read_bytes().split(b"\n", 1)
    magic, version, digest = header.split(b" ")
    assert magic == b"regutils-cache" and digest.decode() == hashlib.sha256(body).hexdigest()
    assert torch.equal(torch.load(io.BytesIO(body), weights_only=True)["w"], torch.arange(3.0))


def _flip_a_weight(entry):
    """Change one float32 of the stored weights in place, keeping a loadable torch file."""
    blob = bytearray(entry.read_bytes())
    nan = torch.tensor([float("nan")]).numpy().tobytes()
    first_weight = torch.load(io.BytesIO(blob.split(b"\n", 1)[1]), weights_only=True)
    values = next(iter(first_weight["state_dict"].values())).reshape(-1)[:1].numpy().tobytes()
    at = blob.rindex(values)
    blob[at : at + 4] = nan
    entry.write_bytes(bytes(blob))


def test_entry_altered_in_place_is_never_returned(data, cache_dir, monkeypatch):
    first = MLP(hidden=HIDDEN, seed=0)
    ru.fit(first, data, cache=True, **FIT)
    (entry,) = cache_dir.glob("*.pt")
    _flip_a_weight(entry)
    # still a valid torch file: without the checksum this NaN weight would come back as a hit
    body = entry.read_bytes().split(b"\n", 1)[1]
    state = torch.load(io.BytesIO(body), weights_only=True)["state_dict"]
    assert any(torch.isnan(t).any() for t in state.values())
    model = MLP(hidden=HIDDEN, seed=0)
    with _warned_about(entry, "sha256 mismatch: the file was truncated or altered"):
        h = ru.fit(model, data, cache=True, **FIT)
    assert not h.cached
    for k, v in first.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), "retrained, same weights as the first run"
    forbid_training(monkeypatch)
    assert ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT).cached, "replaced by a good entry"


def test_truncated_entry_is_a_miss(data, cache_dir):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    (entry,) = cache_dir.glob("*.pt")
    entry.write_bytes(entry.read_bytes()[:-100])
    with _warned_about(entry, "sha256 mismatch"):
        assert not ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT).cached


def test_foreign_torch_file_is_a_miss(data, cache_dir):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    (entry,) = cache_dir.glob("*.pt")
    torch.save({"weights": torch.ones(2)}, entry)  # a valid torch file, not an entry
    with _warned_about(entry, "not a regutils cache entry"):
        assert not ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT).cached


@pytest.mark.parametrize(
    "stored, reason",
    [
        ({"histories": []}, "no 'history', 'state_dict' key(s) (has 'histories')"),
        ({"history": {}, "state_dict": [1, 2]}, "'state_dict' has the wrong structure (list)"),
        ({"history": [], "state_dict": {}}, "'history' has the wrong structure (list)"),
    ],
)
def test_entry_of_another_layout_is_a_miss(data, cache_dir, stored, reason):
    """A verified entry without what fit reads (today: KeyError 'state_dict') is a miss."""
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    (entry,) = cache_dir.glob("*.pt")
    cache.save(entry.stem, stored)
    with _warned_about(entry, reason):
        assert not ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT).cached


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "version, body, reason",
    [
        (cache._FORMAT + 1, _torch_bytes({"x": torch.ones(2)}),
         f"entry format '{cache._FORMAT + 1}', expected {cache._FORMAT}"),
        (cache._FORMAT, _torch_bytes([torch.ones(2)]), "holds a list, not a dict"),
        (cache._FORMAT, b"not a pickle at all", "torch.load failed (UnpicklingError: "),
    ],
    ids=["other-format", "not-a-dict", "not-torch"],
)
def test_entry_with_a_valid_checksum_but_unusable_body_is_a_miss(data, cache_dir, version, body, reason):
    """Header and sha256 written by hand around the body, so only the later checks can refuse it."""
    key, hit = cache.lookup("other", {"a": 1}, data)
    assert hit is None
    entry = cache_dir / f"{key}.pt"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"regutils-cache %d %s\n" % (version, hashlib.sha256(body).hexdigest().encode()) + body)
    with _warned_about(entry, reason):
        assert cache.lookup("other", {"a": 1}, data) == (key, None)


def test_save_refuses_what_is_not_a_dict(cache_dir):
    with pytest.raises(ValueError, match="^entry must be a dict, got list$"):
        cache.save("k" * 64, [torch.ones(2)])
    assert not cache_dir.exists()


def test_sweep_entry_structure_is_checked(data, cache_dir):
    configs = [{"p": 0.1}, {"p": 0.2}]
    kw = dict(epochs=1, batch_size=128, hidden=HIDDEN, progress=False, cache=True)
    ru.sweep(configs, data, **kw)
    (entry,) = cache_dir.glob("*.pt")
    good = cache.load(entry.stem, required=cache.REQUIRED["sweep"])
    assert good is not None and good["chunks"] == [2]
    cache.save(entry.stem, {**good, "states": good["states"][:1]})  # one model's weights lost
    with _warned_about(entry, "inconsistent lengths"):
        assert not ru.sweep(configs, data, **kw).cached
    key, hit = cache.lookup("sweep", {"not": "the same config"}, data)
    assert hit is None and not (cache_dir / f"{key}.pt").exists()  # a plain miss: no warning


def test_lookup_takes_the_keys_the_caller_needs(data, cache_dir):
    key, hit = cache.lookup("other", {"a": 1}, data)
    assert hit is None
    cache.save(key, {"x": torch.ones(2)})
    assert cache.lookup("other", {"a": 1}, data)[1]["x"].tolist() == [1.0, 1.0]
    with _warned_about(cache_dir / f"{key}.pt", "no 'y' key(s) (has 'x')"):
        assert cache.lookup("other", {"a": 1}, data, required=("y",)) == (key, None)


def test_failed_write_leaves_nothing(cache_dir, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.save("a" * 64, {"x": torch.ones(2)})
    assert list(cache_dir.iterdir()) == []


def test_clear(data, cache_dir):
    ru.fit(MLP(hidden=HIDDEN, seed=0), data, cache=True, **FIT)
    assert cache.clear() == 1 and not cache_dir.exists()
    assert cache.clear() == 0


def test_clear_removes_only_the_cache_s_own_files(cache_dir):
    # REGUTILS_CACHE_DIR pointed at a folder that holds other files: those stay
    cache.save("b" * 64, {"x": torch.ones(2)})
    (cache_dir / f".{'c' * 64}.pt.x1y2.part").write_bytes(b"half an entry")  # an interrupted write
    for name in ("notes.txt", "model.pt", "d" * 64):
        (cache_dir / name).write_text("mine")
    (cache_dir / "sub").mkdir()
    assert cache.clear() == 1
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(["notes.txt", "model.pt", "d" * 64, "sub"])


@pytest.mark.parametrize("key", ["../" + "a" * 61, "A" * 64, "a" * 63, 7, None])
def test_a_key_make_key_cannot_have_made_is_refused(cache_dir, key):
    message = r"^key must be a key of make_key \(64 lowercase hexadecimal digits\), got "
    with pytest.raises(ValueError, match=message):
        cache.load(key)
    with pytest.raises(ValueError, match=message):
        cache.save(key, {"x": torch.ones(2)})
    assert not cache_dir.exists()


def test_make_key_checks_kind_and_config(data):
    with pytest.raises(ValueError, match=r"^kind must be a non-empty string, got None$"):
        cache.make_key(None, {}, data)
    with pytest.raises(ValueError, match="^config must be a dict of the run's settings, got list$"):
        cache.make_key("fit", [1], data)


def test_default_location(monkeypatch):
    monkeypatch.delenv("REGUTILS_CACHE_DIR", raising=False)
    assert cache.cache_dir() == ROOT / "_build" / "regutils-cache"
