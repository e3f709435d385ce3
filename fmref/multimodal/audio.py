"""Audio as one more modality: the log-mel spectrogram.

A waveform becomes an image-like array: a short-time Fourier transform gives the
power at each frequency in overlapping windows, a bank of triangular filters
spaced evenly on the mel scale (close to how pitch is perceived) pools it into
``n_mels`` bands, and a logarithm compresses its range. The result, ``(n_mels,
frames)``, is cut into patches or strided convolutions like an image, and enters
the same kind of Transformer encoder (Whisper, AST). The defaults and the
normalisation are Whisper's; the tests compare with transformers'
``WhisperFeatureExtractor``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["hz_to_mel", "mel_to_hz", "mel_filter_bank", "log_mel_spectrogram"]

_F_SP = 200.0 / 3  # Slaney: 66.7 Hz per mel below 1 kHz
_MIN_LOG_HZ, _MIN_LOG_MEL = 1000.0, 15.0  # the scale turns logarithmic at 1 kHz = 15 mel
_LOGSTEP = math.log(6.4) / 27.0  # 27 mel per factor 6.4 above 1 kHz


def _check_nonnegative(name, value):
    t = torch.as_tensor(value, dtype=torch.float64)
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def hz_to_mel(freq):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above.

    Parameters
    ----------
    freq : float or torch.Tensor
        Frequency in Hz.

    Returns
    -------
    torch.Tensor
        Mels.

    References
    ----------
    .. [1] Slaney, "Auditory Toolbox", version 2, Interval Research Corporation, 1998.

    Examples
    --------
    >>> from fmref.multimodal.audio import hz_to_mel, mel_to_hz
    >>> [round(m, 3) for m in hz_to_mel([500.0, 1000.0, 6400.0]).tolist()]
    [7.5, 15.0, 42.0]
    >>> round(mel_to_hz(42.0).item(), 1)
    6400.0
    """
    _check_nonnegative("freq", freq)
    f = torch.as_tensor(freq, dtype=torch.float64)
    log_part = _MIN_LOG_MEL + torch.log(f.clamp(min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`.

    Parameters
    ----------
    mel : float or torch.Tensor
        Mels.

    Returns
    -------
    torch.Tensor
        Frequency in Hz.

    Examples
    --------
    >>> from fmref.multimodal.audio import mel_to_hz
    >>> round(mel_to_hz(15.0).item(), 1)
    1000.0
    """
    _check_nonnegative("mel", mel)
    m = torch.as_tensor(mel, dtype=torch.float64)
    log_part = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (m.clamp(min=_MIN_LOG_MEL) - _MIN_LOG_MEL))
    return torch.where(m >= _MIN_LOG_MEL, log_part, m * _F_SP)


def mel_filter_bank(n_freqs, n_mels, sample_rate, f_min=0.0, f_max=None):
    """Triangular filters evenly spaced in mels, with Slaney's area normalisation.

    Filter ``m`` rises from centre ``m - 1`` to centre ``m`` and falls to centre
    ``m + 1`` (centres: ``n_mels + 2`` points evenly spaced in mels between
    ``f_min`` and ``f_max``), and is scaled by ``2 / (f_{m+1} - f_{m-1})`` so that
    every filter has the same area.

    Parameters
    ----------
    n_freqs : int
        Frequency bins of the spectrum, ``n_fft // 2 + 1``.
    n_mels : int
        Number of filters.
    sample_rate : int
        Samples per second; the bins span 0 to ``sample_rate / 2``.
    f_min : float, default 0.0
        Lowest edge in Hz.
    f_max : float, optional
        Highest edge in Hz; default ``sample_rate / 2``.

    Returns
    -------
    torch.Tensor
        ``(n_freqs, n_mels)`` float32 weights.

    Raises
    ------
    ValueError
        If a count is not positive or the edges are not ``0 <= f_min < f_max``.

    Examples
    --------
    >>> from fmref.multimodal.audio import mel_filter_bank
    >>> bank = mel_filter_bank(201, 80, 16000)  # Whisper: n_fft = 400 at 16 kHz
    >>> bank.shape, int((bank > 0).sum(0)[0]), int((bank > 0).sum(0)[-1])  # narrow low, wide high
    (torch.Size([201, 80]), 1, 14)
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if n_freqs < 2 or n_mels < 1 or sample_rate <= 0:
        raise ValueError(
            f"n_freqs must be >= 2, n_mels and sample_rate positive, got n_freqs={n_freqs}, "
            f"n_mels={n_mels}, sample_rate={sample_rate}"
        )
    if not 0 <= f_min < f_max:
        raise ValueError(f"f_min and f_max must satisfy 0 <= f_min < f_max, got {f_min}, {f_max}")
    fft_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)  # (F,)
    edges = mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2).double())
    widths = edges[1:] - edges[:-1]  # (M + 1,)
    slopes = edges[None, :] - fft_freqs[:, None]  # (F, M + 2)
    down = -slopes[:, :-2] / widths[:-1]  # (F, M): rising edge
    up = slopes[:, 2:] / widths[1:]  # (F, M): falling edge
    bank = torch.clamp(torch.minimum(down, up), min=0.0)
    bank = bank * (2.0 / (edges[2:] - edges[:-2]))  # Slaney: equal area
    return bank.float()


def log_mel_spectrogram(waveform, sample_rate=16000, n_fft=400, hop_length=160, n_mels=80):
    """Whisper's log-mel spectrogram of a mono waveform.

    Hann-windowed STFT (centred, reflect-padded), power, mel filters, ``log10``
    clamped at ``1e-10``, values below ``max - 8`` raised to it, then ``(x + 4) / 4``.
    The last STFT frame is dropped, so ``L`` samples give ``L // hop_length`` frames.

    Parameters
    ----------
    waveform : torch.Tensor
        ``(L,)`` samples.
    sample_rate : int, default 16000
        Samples per second.
    n_fft : int, default 400
        Window and FFT length (25 ms at 16 kHz).
    hop_length : int, default 160
        Samples between frames (10 ms at 16 kHz: 100 frames per second).
    n_mels : int, default 80
        Mel bands.

    Returns
    -------
    torch.Tensor
        ``(n_mels, L // hop_length)`` float32.

    Raises
    ------
    ValueError
        If ``waveform`` is not 1-D or is shorter than ``n_fft // 2 + 1`` samples.

    References
    ----------
    .. [1] Radford et al., "Robust Speech Recognition via Large-Scale Weak
       Supervision", ICML 2023, sec. 2.2.

    Examples
    --------
    >>> import math, torch
    >>> from fmref.multimodal.audio import log_mel_spectrogram
    >>> t = torch.arange(16000) / 16000  # one second at 16 kHz
    >>> spec = log_mel_spectrogram(torch.sin(2 * math.pi * 440.0 * t))  # the A above middle C
    >>> spec.shape  # 80 bands x 100 frames
    torch.Size([80, 100])
    >>> int(spec.mean(1).argmax())  # the band that holds 440 Hz
    11
    """
    if not isinstance(waveform, torch.Tensor) or waveform.dim() != 1:
        raise ValueError("waveform must be a 1-D tensor of samples")
    if waveform.numel() <= n_fft // 2:
        raise ValueError(f"waveform must have more than n_fft // 2 = {n_fft // 2} samples")
    x = waveform.to(torch.float32)
    window = torch.hann_window(n_fft)
    stft = torch.stft(x, n_fft, hop_length, window=window, return_complex=True)  # (F, frames+1)
    power = stft[:, :-1].abs() ** 2  # (F, frames)
    mel = mel_filter_bank(n_fft // 2 + 1, n_mels, sample_rate).T @ power  # (n_mels, frames)
    log_spec = mel.clamp(min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0
