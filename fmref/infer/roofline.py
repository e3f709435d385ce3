"""The roofline model: is a kernel limited by compute or by memory bandwidth?

A kernel that does ``flops`` floating-point operations and moves ``bytes`` bytes
takes at least ``max(flops / peak_flops, bytes / bandwidth)`` seconds. Its
*arithmetic intensity* ``flops / bytes`` decides which term wins: below the
machine's *ridge point* ``peak_flops / bandwidth`` it is memory-bound.

For a decoder with ``N`` parameters, one forward pass over ``n`` tokens costs about
``2 N n`` FLOPs and reads all ``N`` weights once. Prefill (``n`` = prompt length
times batch) has intensity about ``n`` FLOPs per weight byte pair, far above the
ridge; decoding (``n`` = batch, often 1) is deep in the memory-bound region, which
is why batching and smaller weights speed it up.
"""

from __future__ import annotations

from dataclasses import dataclass

from fmref._validate import check_positive

__all__ = ["RooflinePoint", "roofline", "forward_cost"]


@dataclass
class RooflinePoint:
    """Where one kernel sits on a machine's roofline.

    Parameters
    ----------
    intensity : float
        Arithmetic intensity, FLOPs per byte.
    ridge : float
        The machine's ridge point ``peak_flops / bandwidth``, FLOPs per byte.
    attainable_flops : float
        ``min(peak_flops, intensity * bandwidth)``, FLOP/s.
    time : float
        Lower bound on the duration, ``max(flops / peak_flops, bytes / bandwidth)``, s.
    bound : str
        ``"memory"`` or ``"compute"``.

    Examples
    --------
    >>> from fmref.infer.roofline import RooflinePoint
    >>> RooflinePoint(1.0, 295.0, 3.35e12, 0.004, "memory").bound
    'memory'
    """

    intensity: float  # FLOP / byte
    ridge: float  # FLOP / byte where the two roofs meet
    attainable_flops: float  # FLOP / s
    time: float  # s, lower bound
    bound: str  # "memory" or "compute"


def roofline(flops, bytes, peak_flops, bandwidth):  # noqa: A002 (the model's own word)
    """Place a kernel on the roofline of a machine.

    Parameters
    ----------
    flops : float
        Floating-point operations of the kernel, ``> 0``.
    bytes : float
        Bytes moved between memory and the chip, ``> 0``.
    peak_flops : float
        The machine's peak FLOP/s.
    bandwidth : float
        The machine's memory bandwidth, bytes/s.

    Returns
    -------
    RooflinePoint

    Raises
    ------
    ValueError
        If an argument is not a positive number.

    References
    ----------
    .. [1] Williams, Waterman and Patterson, "Roofline: An Insightful Visual
       Performance Model for Multicore Architectures", CACM 2009.

    Examples
    --------
    >>> from fmref.infer.roofline import roofline
    >>> # one decode step of a 7B model in fp16 on a GPU with 312 TFLOP/s, 2 TB/s
    >>> p = roofline(flops=2 * 7e9, bytes=2 * 7e9, peak_flops=312e12, bandwidth=2.0e12)
    >>> p.bound, p.intensity, p.ridge, round(p.time * 1e3, 2)  # ms
    ('memory', 1.0, 156.0, 7.0)
    """
    for name, value in (
        ("flops", flops),
        ("bytes", bytes),
        ("peak_flops", peak_flops),
        ("bandwidth", bandwidth),
    ):
        check_positive(name, value)
    intensity = flops / bytes
    ridge = peak_flops / bandwidth
    time = max(flops / peak_flops, bytes / bandwidth)
    return RooflinePoint(
        intensity=intensity,
        ridge=ridge,
        attainable_flops=min(peak_flops, intensity * bandwidth),
        time=time,
        bound="memory" if intensity < ridge else "compute",
    )


def forward_cost(n_params, n_tokens, bytes_per_param=2, kv_bytes=0):
    """FLOPs and bytes of one forward pass over ``n_tokens`` tokens.

    ``2 * n_params * n_tokens`` FLOPs (a multiply and an add per weight and token;
    attention's own FLOPs are left out), and every weight read once plus
    ``kv_bytes`` of cached keys and values.

    Parameters
    ----------
    n_params : int
        Parameters of the model.
    n_tokens : int
        Tokens processed in the pass: prompt length x batch for prefill, batch
        for a decode step.
    bytes_per_param : float, default 2
        2 for fp16/bf16, 1 for int8, 0.5 for int4.
    kv_bytes : float, default 0
        KV-cache bytes read (see :func:`fmref.infer.kv.kv_cache_bytes`).

    Returns
    -------
    tuple of float
        ``(flops, bytes)``.

    Raises
    ------
    ValueError
        If ``n_params``, ``n_tokens`` or ``bytes_per_param`` is not positive, or
        ``kv_bytes < 0``.

    References
    ----------
    .. [1] Kaplan et al., "Scaling Laws for Neural Language Models", 2020
       (the ``2 N`` FLOPs per token of a forward pass).

    Examples
    --------
    >>> from fmref.infer.roofline import forward_cost
    >>> flops, nbytes = forward_cost(7e9, n_tokens=1)  # decode, batch 1
    >>> flops / nbytes  # FLOPs per byte
    1.0
    >>> flops, nbytes = forward_cost(7e9, n_tokens=2048)  # prefill of 2,048 tokens
    >>> flops / nbytes
    2048.0
    """
    check_positive("n_params", n_params)
    check_positive("n_tokens", n_tokens)
    check_positive("bytes_per_param", bytes_per_param)
    if not isinstance(kv_bytes, (int, float)) or kv_bytes < 0:
        raise ValueError(f"kv_bytes must be a number >= 0, got {kv_bytes!r}")
    return 2.0 * n_params * n_tokens, n_params * bytes_per_param + kv_bytes
