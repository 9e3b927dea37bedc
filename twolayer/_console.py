"""What the Solver prints while it trains: a tqdm bar in a terminal, the course's lines in
a notebook.

In a Jupyter kernel a text bar fills the cell with one line per refresh, so there the
Solver prints what CS231n's Solver prints instead: ``(Iteration t / T) loss: ...``
every ``print_every`` iterations and ``(Epoch k / N) train acc: ...; val_acc: ...``
after each epoch (and before the first, for epoch 0). In a terminal the bar shows
the loss, and the epoch line adds the validation loss, learning rate and seconds.
The Solver takes tqdm from ``tqdm.std``, never ``tqdm.auto``: in a notebook without
ipywidgets the latter warns as it is imported.
"""

from __future__ import annotations

import sys

__all__ = ["epoch_line", "in_notebook", "iteration_line", "prints_iterations"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython imported, and run by an IPython kernel app)."""
    ipython = sys.modules.get("IPython")  # never imported here: a terminal does without it
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def prints_iterations(t: int, print_every: int) -> bool:
    """Whether iteration ``t`` (1-based) is reported: the 1st, then every print_every-th
    after it, as the course does."""
    return (t - 1) % print_every == 0


def iteration_line(t: int, total: int, loss: float) -> str:
    """The course's line for iteration ``t`` of ``total``."""
    return f"(Iteration {t} / {total}) loss: {loss:f}"


def epoch_line(
    epoch: int, num_epochs: int, train_acc: float, val_acc: float, more: str | None = None
) -> str:
    """The course's line for the accuracies after ``epoch`` (0: before training), with
    ``more`` appended after a "; " when given."""
    line = f"(Epoch {epoch} / {num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}"
    return line if more is None else f"{line}; {more}"
