"""Shared set-up for the two doctest runners (pytest and Sphinx's doctest builder).

Both call :func:`doctest_setup` before the examples of a file run, so that an
example prints the same numbers whichever runner executes it.
"""

import random

import numpy as np
import torch

__all__: list[str] = []


def doctest_setup(seed: int = 0) -> None:
    """Seed every random generator and fix print options (not public API)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
