"""Automatic differentiation from first principles (Appendix A).

Import from this package or from its modules:

- :mod:`fmref.autograd.engine`: a scalar reverse-mode engine (:class:`~fmref.autograd.engine.Value`)
  and a tiny multilayer perceptron built on it;
- :mod:`fmref.autograd.manual`: hand-derived backward passes of a linear layer,
  softmax cross-entropy and LayerNorm, checked against :mod:`torch.autograd`.
"""

from fmref._lazy import attach as _attach

__getattr__, __dir__ = _attach(__name__, __path__)
