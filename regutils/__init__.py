"""Shared code for the executable textbook on regularizing neural networks.

``import regutils as ru`` gives the public API. Submodules load on first use, so a
chapter that only needs scikit-learn never pays for importing torch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    # data layer
    "data_dir": "data",
    "RegressionData": "data",
    "make_regression_data": "data",
    "write_regression_csv": "data",
    "read_regression_csv": "data",
    "load_regression": "data",
    "MNISTData": "data",
    "load_mnist": "data",
    "MNIST_MEAN": "data",
    "MNIST_STD": "data",
    "prepare_mnist_raw": "data",
    # device and precision
    "device": "hardware",
    "precision": "hardware",
    "native_bf16": "hardware",
    "describe_device": "hardware",
    # models and training
    "MLP": "models",
    "dropout": "models",
    "EarlyStopping": "early_stopping",
    "History": "training",
    "fit": "training",
    "parameter_groups": "training",
    "sweep": "sweeps",
    "SweepResult": "sweeps",
    "evaluate": "evaluation",
    "predict": "evaluation",
    # parameter norm penalties (scikit-learn)
    "ridge_objective": "penalties",
    "lasso_objective": "penalties",
    "elastic_net_objective": "penalties",
    "weight_decay_equivalent": "penalties",
    "soft_threshold": "penalties",
    "norm_ball_minimizer": "penalties",
    "CoefPath": "penalties",
    "coef_path": "penalties",
    "CVCurve": "penalties",
    "cv_curve": "penalties",
    "fit_cv_models": "penalties",
    "selection_scores": "penalties",
    "group_nonzero_counts": "penalties",
    "results_table": "penalties",
    "penalized_model": "penalties",
    "CVModels": "penalties",
    "map_alpha": "penalties",
    "alpha_max": "penalties",
    # closed forms: the ridge eigen-filter and early stopping on a quadratic loss
    "hessian_eigen": "theory",
    "gd_path": "theory",
    "gd_closed_form": "theory",
    "ridge_solution": "theory",
    "shrinkage_factors": "theory",
    "equivalent_alpha": "theory",
    "matching_alpha": "theory",
    # the data generator as a laboratory: many draws from one population
    "population": "laboratory",
    "generator_intercept": "laboratory",
    "draw_datasets": "laboratory",
    "DrawFits": "laboratory",
    "fit_draws": "laboratory",
    "bias_variance": "laboratory",
    "test_mse": "laboratory",
    "cv_draws": "laboratory",
    "blocks_split_by_size": "laboratory",
    # figures of the linear-model chapters
    "plot_constraint_regions": "plots_linear",
    "plot_shrinkage": "plots_linear",
    "plot_path": "plots_linear",
    "plot_mse_curves": "plots_linear",
    "plot_coef_and_mse": "plots_linear",
    "plot_coef_comparison": "plots_linear",
    "plot_path_frame": "plots_linear",
    "plot_bias_variance": "plots_linear",
    "plot_selection_frequency": "plots_linear",
    # results as data (glued for the build to publish)
    "publish_comparisons": "publish",
    "publish_table": "publish",
    # comparison statistics
    "paired_comparison": "stats",
    "mcnemar": "stats",
    "mcnemar_record": "stats",
    "calibration": "stats",
    "summarize_seeds": "stats",
    "seeds_needed": "stats",
    "holm": "stats",
    "family_decisions": "stats",
    "family_sentence": "stats",
    "names_by_decision": "stats",
    "comparison_table": "stats",
    "metric_unit": "stats",
    "units_table": "stats",
    "decision": "stats",
    "verdict": "stats",
    "describe": "stats",
    "name_list": "stats",
    "floor_to": "stats",
    "ceil_to": "stats",
    "ceil_significant": "stats",
    # figures of comparison records
    "plot_differences": "plots_comparisons",
    # interactive figures
    "frame_slider": "widgets",
    "figure_to_png": "widgets",
}

# public names that differ from the name inside their module
_RENAMED = {"describe_device": "describe"}

__all__ = sorted(_EXPORTS)


# modules the chapters reach as ``ru.<module>`` (shared run definitions, figure modules)
_SUBMODULES = ("recipes", "plots_nn", "widgets", "stats", "checks", "hardware", "bench")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"regutils.{name}")
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'regutils' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"regutils.{module}"), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
