"""Small synthetic stand-ins for MNIST, for the training-engine tests (seconds, not minutes)."""

from __future__ import annotations

import torch

from regutils.data import MNISTData


def synthetic_mnist(
    n_train: int = 512,
    n_val: int = 256,
    n_test: int = 256,
    *,
    dim: int = 784,
    classes: int = 10,
    signal: float = 0.35,
    label_noise: float = 0.0,
    seed: int = 0,
) -> MNISTData:
    """A 10-class problem shaped like MNIST: class centroids plus Gaussian noise.

    ``signal`` scales the centroids (smaller: harder). ``label_noise`` replaces that fraction
    of the *training* labels with random classes, so a network can overfit them and the
    validation loss rises again (what early stopping needs).
    """
    g = torch.Generator().manual_seed(seed)
    centroids = torch.randn(classes, dim, generator=g)

    def draw(n):
        y = torch.randint(0, classes, (n,), generator=g)
        X = signal * centroids[y] + torch.randn(n, dim, generator=g)
        return X, y

    X_train, y_train = draw(n_train)
    if label_noise:
        flip = torch.rand(n_train, generator=g) < label_noise
        y_train = torch.where(flip, torch.randint(0, classes, (n_train,), generator=g), y_train)
    X_val, y_val = draw(n_val)
    X_test, y_test = draw(n_test)
    spec = {"name": "synthetic", "n_train": n_train, "seed": seed, "label_noise": label_noise}
    return MNISTData(X_train, y_train, X_val, y_val, X_test, y_test, spec=spec)


def overfitting_mnist() -> MNISTData:
    """Few noisy training rows: with ``MLP(hidden=(64, 64))``, Adam 3e-3 and batch 32 the
    validation loss falls for about six epochs, then climbs."""
    return synthetic_mnist(n_train=160, n_val=256, n_test=64, signal=0.15, label_noise=0.5, seed=1)
