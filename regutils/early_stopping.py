"""Early stopping: the one rule that ``fit``, ``sweep`` and the chapter all use.

After every epoch the validation loss is reported to :meth:`EarlyStopping.update`. An epoch
*improves* when its loss is below the best so far by more than ``min_delta``; training stops
once ``patience`` epochs in a row failed to improve. The weights to restore are those of the
last improving epoch (``best_epoch``).
"""

from __future__ import annotations

import math

from .checks import check_int, check_real

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Patience-based stopping on a validation loss.

    Parameters
    ----------
    patience
        Epochs in a row without improvement that end training (>= 1), or ``None`` to never
        stop (the best epoch is still tracked).
    min_delta
        An epoch improves only if ``loss < best_loss - min_delta`` (>= 0).

    Attributes
    ----------
    best_loss, best_epoch
        The lowest loss that counted as an improvement and its (1-based) epoch; ``inf`` and 0
        before the first update. The first finite loss always improves.
    bad_epochs
        Epochs since ``best_epoch``.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0):
        self.patience = check_int("patience", patience, 1, allow_none=True)
        self.min_delta = check_real("min_delta", min_delta, 0)
        self.best_loss = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, epoch: int, loss: float) -> bool:
        """Record epoch ``epoch``'s loss; return True if it improved on the best so far."""
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row did not improve."""
        return self.patience is not None and self.bad_epochs >= self.patience
