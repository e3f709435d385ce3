"""fmref: the code appendix of the Foundation Model Engineering reference manual.

One small, readable PyTorch reference implementation of each idea the manual
teaches. Import from the modules, e.g.
``from fmref.nn.attention import scaled_dot_product_attention``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
