"""Tests of fmref.multimodal.audio against transformers' Whisper feature extractor."""

import math

import numpy as np
import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from fmref.multimodal.audio import hz_to_mel, log_mel_spectrogram, mel_filter_bank, mel_to_hz


@pytest.mark.parametrize(
    "n_fft, n_mels, sr, f_max", [(400, 80, 16000, 8000.0), (512, 40, 22050, None)]
)
def test_mel_filter_bank_matches_transformers(n_fft, n_mels, sr, f_max):
    from transformers.audio_utils import mel_filter_bank as hf_bank

    theirs = hf_bank(
        num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels, min_frequency=0.0,
        max_frequency=f_max or sr / 2, sampling_rate=sr, norm="slaney", mel_scale="slaney",
    )  # fmt: skip
    ours = mel_filter_bank(n_fft // 2 + 1, n_mels, sr, f_max=f_max)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("length", [4000, 12345])
def test_log_mel_spectrogram_matches_whisper_feature_extractor(length):
    extractor = transformers.WhisperFeatureExtractor()  # 80 mels, n_fft 400, hop 160, 16 kHz
    wave = np.random.default_rng(0).standard_normal(length).astype(np.float32) * 0.1
    theirs = extractor._np_extract_fbank_features(wave[None], "cpu")[0]
    ours = log_mel_spectrogram(torch.from_numpy(wave))
    assert ours.shape == theirs.shape == (80, length // 160)
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 20000.0))
def test_mel_scale_round_trips(freq):
    assert mel_to_hz(hz_to_mel(freq)).item() == pytest.approx(freq, rel=1e-9, abs=1e-9)


def test_a_tone_lights_the_band_that_holds_its_frequency():
    bank = mel_filter_bank(201, 80, 16000)
    t = torch.arange(16000) / 16000
    for freq in (300.0, 1000.0, 3000.0):
        spec = log_mel_spectrogram(torch.sin(2 * math.pi * freq * t))
        fft_bin = round(freq / (16000 / 400))
        assert bank[fft_bin, int(spec.mean(1).argmax())] > 0  # the loudest band covers the tone


def test_audio_rejects_bad_input():
    with pytest.raises(ValueError, match="waveform"):
        log_mel_spectrogram(torch.zeros(2, 1000))
    with pytest.raises(ValueError, match="waveform"):
        log_mel_spectrogram(torch.zeros(100))
    with pytest.raises(ValueError, match="n_mels"):
        mel_filter_bank(201, 0, 16000)
    with pytest.raises(ValueError, match="f_min"):
        mel_filter_bank(201, 80, 16000, f_min=9000.0)
