"""The measurement files the Performance appendix reads: complete, and of the book's recipe.

The page (book/performance.md) asserts its claims when the book is built; these tests catch
a stale or partial file in seconds, without building the book.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest

from regutils import recipes

DATA = files("regutils") / "data_files"
PAGE = Path(__file__).resolve().parents[1] / "book" / "performance.md"

# every key of a bench result file the page reads
BENCH_KEYS = {
    "device", "device_description", "native_bf16", "precision", "torch", "torch_threads",
    "mode", "date", "book_batch_size", "sweep_k", "flops_per_sample", "load_average_1min",
    "loader_samples_per_s", "peer_tensor_loader_samples_per_s", "fit_bs64_samples_per_s",
    "fit_fp32_bs128_samples_per_s", "fit_book_samples_per_s", "sweep_model_samples_per_s",
    "gemm_fp32_gflops", "gemm_bf16_gflops", "ratio_fit_vs_loader", "ratio_book_vs_peer",
    "ratio_book_vs_fp32", "ratio_sweep_vs_fit", "roof_samples_per_s", "roof_fraction",
}  # fmt: skip

# 784-400-400-400-400-10 by hand: MACs 313,600 + 3 x 160,000 + 4,000 = 797,600;
# forward + weight gradients + input gradients (not for the 784-400 layer):
# 2 x (3 x 797,600 - 313,600) = 4,158,400
FLOPS_PER_SAMPLE = 4_158_400


def read(name):
    return json.loads((DATA / name).read_text())


def recipe_key(config):
    return (config["batch_size"], config["lr"], config["epochs"])


def bench_files():
    return [name for name in ("bench_cpu.json", "bench_gpu.json") if (DATA / name).is_file()]


@pytest.mark.parametrize("name", bench_files())
def test_bench_files_hold_every_key_the_page_reads(name):
    result = read(name)
    assert BENCH_KEYS <= set(result), f"{name} lacks {sorted(BENCH_KEYS - set(result))}"
    assert result["book_batch_size"] == recipes.FULL_DATA["batch_size"], "a stale recipe"
    assert result["flops_per_sample"] == FLOPS_PER_SAMPLE
    prec = result["precision"]
    assert prec == ("bf16" if result["native_bf16"] else "fp32")
    roof = result[f"gemm_{prec}_gflops"] * 1e9 / FLOPS_PER_SAMPLE
    assert result["roof_samples_per_s"] == pytest.approx(roof)
    assert result["roof_fraction"] == pytest.approx(result["fit_book_samples_per_s"] / roof)


def test_recipe_search_is_a_complete_grid_that_holds_the_books_recipe():
    rows = read("recipe_search_h100.json")
    runs = {(recipe_key(r), r["label"], r["seed"]) for r in rows}
    assert len(runs) == len(rows), "one row per (recipe, configuration, seed)"
    recipes_tried = {recipe_key(r) for r in rows}
    assert len(recipes_tried) == 6
    assert runs == {(k, label, seed) for k in recipes_tried
                    for label in ("none", "wd", "dropout", "dropout+wd")
                    for seed in (0, 1, 2)}  # fmt: skip
    assert recipe_key(recipes.FULL_DATA) in recipes_tried
    for key in recipes_tried:  # one sweep per recipe: its rows share one wall time
        assert len({r["wall_s"] for r in rows if recipe_key(r) == key}) == 1


def test_precision_runs_are_the_books_recipe_in_both_precisions():
    result = read("precision_h100.json")
    recipe = result["recipe"]
    for name in ("batch_size", "lr", "epochs", "optimizer", "lr_schedule"):
        assert recipe[name] == recipes.FULL_DATA[name], name
    assert tuple(recipe["hidden"]) == recipes.FULL_DATA["hidden"]
    runs = {(r["precision"], r["label"], r["seed"]) for r in result["runs"]}
    assert len(runs) == len(result["runs"])
    assert runs == {(p, label, seed) for p in ("fp32", "bf16")
                    for label in ("none", "weight decay + dropout") for seed in range(5)}


def test_page_code_lines_fit_in_88_characters():
    text = PAGE.read_text()
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S)
    assert cells, "the page has code cells"
    long = [line for cell in cells for line in cell.splitlines() if len(line) > 88]
    assert long == []
