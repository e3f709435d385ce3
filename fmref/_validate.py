"""fmref's one validation layer: the argument checks every public function calls.

Each check takes the argument's name first and its value second, raises
:class:`ArgumentTypeError` (a :class:`TypeError`) for a value of the wrong kind
and :class:`ValueError` for a value of the right kind outside its domain, and
names the argument and what was expected in the message. Each returns the value
(converted where it says so), so a check reads as an assignment at the top of a
function::

    n_heads = check_positive_int("n_heads", n_heads)

Keep the math below the checks free of guards: a forward pass checks its inputs
once where they enter (the model's ``forward``), not in every layer.
"""

from __future__ import annotations

import math
import numbers
import sys

__all__ = [
    "ArgumentTypeError",
    "check_int",
    "check_positive_int",
    "check_number",
    "check_positive",
    "check_probability",
    "check_in",
    "check_tensor",
    "check_finite",
    "check_nonempty",
    "check_token_ids",
    "check_token_sequence",
    "check_instance",
    "check_overrides",
]



class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a str or a float where an int size is expected).

    A :class:`TypeError`, and also a :class:`ValueError` because fmref's functions
    raised ValueError for these before the checks were shared, so code that
    catches either keeps working (NumPy's ``AxisError`` is both a ValueError and
    an IndexError for the same reason).
    """

def _kind(value):
    if _is_tensor(value):
        return value.dtype
    text = repr(value)
    return f"{text} ({type(value).__name__})" if len(text) <= 40 else type(value).__name__


def check_int(name, value, low=None, high=None):
    """``value`` as an int in ``[low, high]`` (either bound optional); bools are refused.

    Examples
    --------
    >>> from fmref._validate import check_int
    >>> check_int("k", 3, low=0)
    3
    >>> check_int("k", -1, low=0)
    Traceback (most recent call last):
        ...
    ValueError: k must be an int >= 0, got -1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an int, got {_kind(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            want = f">= {low}"
        elif low is None:
            want = f"<= {high}"
        else:
            want = f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {want}, got {value!r}")
    return int(value)


def check_positive_int(name, value):
    """``value`` as an int ``>= 1``.

    Examples
    --------
    >>> from fmref._validate import check_positive_int
    >>> check_positive_int("n_heads", 0)
    Traceback (most recent call last):
        ...
    ValueError: n_heads must be a positive int (>= 1), got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be a positive int (>= 1), got {_kind(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int (>= 1), got {value!r}")
    return int(value)


def check_number(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """``value`` as a finite float in the interval given by the bounds.

    ``low_open`` / ``high_open`` exclude the bound itself.

    Examples
    --------
    >>> from fmref._validate import check_number
    >>> check_number("dropout", 0.1, 0.0, 1.0, high_open=True)
    0.1
    >>> check_number("dropout", 1.0, 0.0, 1.0, high_open=True)
    Traceback (most recent call last):
        ...
    ValueError: dropout must be a finite number in [0.0, 1.0), got 1.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a real number, got {_kind(value)}")
    value = float(value)
    bad = not math.isfinite(value)
    bad = bad or (low is not None and (value <= low if low_open else value < low))
    bad = bad or (high is not None and (value >= high if high_open else value > high))
    if bad:
        if low is not None and high is not None:
            want = f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            want = f" {'>' if low_open else '>='} {low}"
        elif high is not None:
            want = f" {'<' if high_open else '<='} {high}"
        else:
            want = ""
        raise ValueError(f"{name} must be a finite number{want}, got {value!r}")
    return value


def check_positive(name, value):
    """``value`` as a finite float ``> 0``.

    Examples
    --------
    >>> from fmref._validate import check_positive
    >>> check_positive("temperature", float("nan"))
    Traceback (most recent call last):
        ...
    ValueError: temperature must be a positive finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a positive number, got {_kind(value)}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_probability(name, value):
    """``value`` as a float in ``[0, 1]``.

    Examples
    --------
    >>> from fmref._validate import check_probability
    >>> check_probability("p", 1.5)
    Traceback (most recent call last):
        ...
    ValueError: p must be a finite number in [0.0, 1.0], got 1.5
    """
    return check_number(name, value, 0.0, 1.0)


def check_in(name, value, choices):
    """``value`` if it is one of ``choices``.

    Examples
    --------
    >>> from fmref._validate import check_in
    >>> check_in("stage", 4, (0, 1, 2, 3))
    Traceback (most recent call last):
        ...
    ValueError: stage must be one of (0, 1, 2, 3), got 4
    """
    try:
        ok = value in choices and not isinstance(value, bool)
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def _is_tensor(value):
    # torch is imported only by the checks that need it, so that fmref's pure-Python
    # modules (fmref.eval.passk, ...) stay importable without it.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


_KINDS = {
    "float": (lambda t: t.is_floating_point(), "a floating-point tensor"),
    "int": (
        lambda t: not t.is_floating_point() and not t.is_complex() and not _is_bool(t),
        "an integer tensor",
    ),
    "bool": (lambda t: _is_bool(t), "a bool tensor"),
}



def _is_bool(t):
    return str(t.dtype) == "torch.bool"

def check_tensor(name, value, *, dtype=None, ndim=None, shape=None, nonempty=False, finite=False):
    """``value`` if it is a tensor of the given kind, rank, size and finiteness.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        What the caller passed.
    dtype : {"float", "int", "bool"}, optional
        Kind of dtype required.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    shape : str, optional
        The expected shape in words, e.g. ``"(B, T)"``, for the message.
    nonempty : bool, default False
        Refuse a tensor with no elements.
    finite : bool, default False
        Refuse NaN and infinite entries (floating-point tensors).

    Examples
    --------
    >>> import torch
    >>> from fmref._validate import check_tensor
    >>> check_tensor("x", torch.tensor([1.0, float("nan")]), finite=True)
    Traceback (most recent call last):
        ...
    ValueError: x must be finite, got 1 NaN or infinite entries
    """
    if not _is_tensor(value):
        want = _KINDS[dtype][1] if dtype else "a torch.Tensor"
        raise ArgumentTypeError(f"{name} must be {want}, got {type(value).__name__}")
    if dtype is not None and not _KINDS[dtype][0](value):
        raise ArgumentTypeError(f"{name} must be {_KINDS[dtype][1]}, got {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in allowed:
            want = f"shape {shape}" if shape else " or ".join(map(str, allowed)) + " dimensions"
            raise ValueError(f"{name} must have {want}, got shape {tuple(value.shape)}")
    if nonempty:
        check_nonempty(name, value)
    if finite:
        check_finite(name, value)
    return value


def check_nonempty(name, value):
    """``value`` if it has at least one element.

    Examples
    --------
    >>> import torch
    >>> from fmref._validate import check_nonempty
    >>> check_nonempty("batch", torch.zeros(0, 3))
    Traceback (most recent call last):
        ...
    ValueError: batch must not be empty, got shape (0, 3)
    """
    if value.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    return value


def check_finite(name, value):
    """``value`` if no entry is NaN or infinite (integer tensors always pass).

    Examples
    --------
    >>> import torch
    >>> from fmref._validate import check_finite
    >>> check_finite("logits", torch.tensor([0.0, float("inf")]))
    Traceback (most recent call last):
        ...
    ValueError: logits must be finite, got 1 NaN or infinite entries
    """
    if value.is_floating_point() or value.is_complex():
        bad = int((~value.isfinite()).sum())
        if bad:
            raise ValueError(f"{name} must be finite, got {bad} NaN or infinite entries")
    return value


def check_token_ids(name, value, vocab_size, *, nonempty=True):
    """``value`` if it is an integer tensor of ids in ``[0, vocab_size)``.

    Examples
    --------
    >>> import torch
    >>> from fmref._validate import check_token_ids
    >>> check_token_ids("idx", torch.tensor([[1, 7]]), vocab_size=5)
    Traceback (most recent call last):
        ...
    ValueError: idx must hold token ids in [0, 5), got values in [1, 7]
    """
    check_tensor(name, value, dtype="int", nonempty=nonempty)
    if value.numel() and (value.min() < 0 or value.max() >= vocab_size):
        raise ValueError(
            f"{name} must hold token ids in [0, {vocab_size}), "
            f"got values in [{int(value.min())}, {int(value.max())}]"
        )
    return value


def check_token_sequence(name, idx, vocab_size, max_len, limit_name, kv_cache=None, n_layers=None):
    """Check a decoder's input ``(B, T)`` and its cache; return the cached length.

    ``idx`` must hold ids in ``[0, vocab_size)`` with ``T >= 1``; ``kv_cache``,
    if given, must have ``n_layers`` layers; the cached plus new tokens must fit
    in ``max_len`` (named ``limit_name`` in the message).

    Examples
    --------
    >>> import torch
    >>> from fmref._validate import check_token_sequence
    >>> check_token_sequence("idx", torch.zeros(1, 5, dtype=torch.long), 10, 4, "block_size")
    Traceback (most recent call last):
        ...
    ValueError: sequence of 0 cached + 5 new tokens exceeds block_size=4
    """
    check_tensor(name, idx, dtype="int", ndim=2, shape="(B, T)")
    if idx.shape[1] < 1:
        raise ValueError(f"{name} must hold at least one token, got shape {tuple(idx.shape)}")
    check_token_ids(name, idx, vocab_size)
    past = 0
    if kv_cache is not None:
        if kv_cache.n_layers != n_layers:
            raise ValueError(f"kv_cache must have n_layers={n_layers}, got {kv_cache.n_layers}")
        past = kv_cache.length
    if past + idx.shape[1] > max_len:
        raise ValueError(
            f"sequence of {past} cached + {idx.shape[1]} new tokens exceeds {limit_name}={max_len}"
        )
    return past


def check_instance(name, value, kind):
    """``value`` if it is an instance of ``kind`` (a class or a tuple of classes).

    Examples
    --------
    >>> from fmref._validate import check_instance
    >>> check_instance("text", 3, str)
    Traceback (most recent call last):
        ...
    fmref._validate.ArgumentTypeError: text must be a str, got 3 (int)
    """
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _classes(kind)):
        want = " or ".join(k.__name__ for k in _classes(kind))
        raise ArgumentTypeError(f"{name} must be a {want}, got {_kind(value)}")
    return value


def check_hf_model(name, value, *classes):
    """``value`` if it is a transformers model of one of ``classes``, named as strings.

    The check reads the class's name, so fmref needs no import of transformers.

    Examples
    --------
    >>> from fmref._validate import check_hf_model
    >>> check_hf_model("m", object(), "BertModel", "GPT2Model")
    Traceback (most recent call last):
        ...
    fmref._validate.ArgumentTypeError: m must be a transformers BertModel or GPT2Model, got object
    """
    got = type(value).__name__
    if got not in classes:
        want = " or ".join(filter(None, (", ".join(classes[:-1]), classes[-1])))
        raise ArgumentTypeError(f"{name} must be a transformers {want}, got {got}")
    return value


def _classes(kind):
    return kind if isinstance(kind, tuple) else (kind,)


def check_overrides(name, value, defaults):
    """``{**defaults, **value}`` if every key of ``value`` is a key of ``defaults``.

    A recipe's settings are a dict of defaults that a caller may override by
    keyword; a misspelt setting must fail, not train a model with the default.

    Examples
    --------
    >>> from fmref._validate import check_overrides
    >>> check_overrides("overrides", {"steps": 10}, {"steps": 400, "seed": 0})
    {'steps': 10, 'seed': 0}
    >>> check_overrides("overrides", {"step": 10}, {"steps": 400, "seed": 0})
    Traceback (most recent call last):
        ...
    ValueError: overrides must be among ['seed', 'steps'], got ['step']
    """
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise ValueError(f"{name} must be among {sorted(defaults)}, got {unknown}")
    return {**defaults, **value}
