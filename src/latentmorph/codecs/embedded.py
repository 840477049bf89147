"""The embedded DSP codec: cepstral log-mel frames, needs no downloaded weights.

Encoding (per channel, at 44.1 kHz by default):

    STFT (Hann, n_fft=2048, hop=1024) -> power -> 128 mel bands -> log
    -> orthonormal DCT-II -> first ``dim`` (64) coefficients

so each latent frame is a decorrelated, smoothed log-mel spectral envelope of one
~23 ms hop (46 ms window). Coefficient 0 carries loudness, the rest spectral shape.

Encoding runs in numpy (no torch import: ``index`` and ``transfer`` with this codec start
fast); decoding (Griffin-Lim) and the torch views the streaming engine uses import torch.

Decoding inverts each step approximately: zero-pad the cepstrum, inverse DCT, exp,
spread mel power back over linear bins, interpolate frames to a finer hop (``hop /
oversample``) and recover a phase with fast Griffin-Lim (momentum 0.99). Fine
harmonic detail above the mel resolution is lost, so decoded audio keeps the
envelope and the timbre colour but sounds breathy; the ``grains`` renderer, which
plays corpus audio itself, is this codec's default for transfer.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from typing import TYPE_CHECKING

import math

import numpy as np

from latentmorph import spectral
from latentmorph.audio.channels import as_2d
from latentmorph.codecs.base import Codec
from latentmorph.codecs.registry import CodecEntry, register
from latentmorph.errors import CodecError

if TYPE_CHECKING:  # pragma: no cover
    import torch

_LOG_FLOOR = 1e-10  # power floor before the log (-100 dB)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filters, ``[n_mels, n_fft // 2 + 1]``, peak 1 (see :mod:`latentmorph.spectral`)."""
    return spectral.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``[n, n]`` (rows are basis vectors; see :mod:`latentmorph.spectral`)."""
    return spectral.dct_matrix(n)


class EmbeddedCodec(Codec):
    """Deterministic cepstral codec (see module docstring). No weights, no downloads.

    Args:
        sample_rate: working rate in Hz (input is resampled to it).
        hop: samples per latent frame (1024 at 44.1 kHz = 23 ms, ~43 frames/s).
        n_fft: analysis window (default ``2 * hop``).
        n_mels: mel bands before the DCT.
        dim: cepstral coefficients kept (latent dimension).
        gl_iters: Griffin-Lim iterations when decoding.
        oversample: decoding hop is ``hop / oversample`` for smoother phase recovery.
    """

    name = "embedded"
    # transfer declarations (codecs.base.Codec): c0 is the loudness; grains sound best
    # (Griffin-Lim decoding smears and clicks); decoding adds no delay.
    loudness_dims = (0,)
    default_render = "grains"
    latency_samples = 0

    def latent_level_db(self, latents: np.ndarray) -> np.ndarray:
        """dB of each frame ``[N, dim] -> [N]`` from c0 (``sqrt(n_mels) * mean(natural-log mel)``)."""
        return latents[:, 0].astype(np.float64) * (10.0 * math.log10(math.e) / np.sqrt(float(self.n_mels)))

    def __init__(
        self,
        sample_rate: int = 44100,
        hop: int = 1024,
        n_fft: int | None = None,
        n_mels: int = 128,
        dim: int = 64,
        gl_iters: int = 24,
        oversample: int = 4,
    ) -> None:
        n_fft = int(n_fft or 2 * hop)
        if hop <= 0 or n_fft < hop or dim > n_mels or dim <= 0:
            raise CodecError(f"embedded codec: need 0 < hop <= n_fft and 0 < dim <= n_mels (got hop={hop}, n_fft={n_fft}, dim={dim}, n_mels={n_mels})")
        if hop % oversample:
            raise CodecError(f"embedded codec: hop ({hop}) must be a multiple of oversample ({oversample})")
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.n_fft = n_fft
        self.n_mels = int(n_mels)
        self.dim = int(dim)
        self.gl_iters = int(gl_iters)
        self.oversample = int(oversample)

    def config(self) -> dict[str, Any]:
        # gl_iters only affects decoding quality, not the latents: left out on purpose.
        return {
            "version": 1,
            "sample_rate": self.sample_rate,
            "hop": self.hop,
            "n_fft": self.n_fft,
            "n_mels": self.n_mels,
            "dim": self.dim,
        }

    # ---- fixed matrices -------------------------------------------------------------
    @cached_property
    def _mel(self) -> np.ndarray:
        return mel_filterbank(self.sample_rate, self.n_fft, self.n_mels)

    @cached_property
    def _mel_t(self) -> torch.Tensor:
        import torch

        return torch.from_numpy(np.array(self._mel)).float()

    @cached_property
    def _dct(self) -> np.ndarray:
        return dct_matrix(self.n_mels)

    @cached_property
    def _enc_matrix(self) -> torch.Tensor:
        import torch

        return torch.from_numpy(np.array(self._dct[: self.dim])).float()

    @cached_property
    def _mel_inverse(self) -> torch.Tensor:
        """``[n_bins, n_mels]``: spreads each band's mean power over its bins by filter weight.

        ``mel_b = sum_k fb[b, k] P[k]``, so a band's mean bin power is ``mel_b / |fb_b|_1``;
        each bin takes the bands that cover it in proportion to their filter weights.
        A flat spectrum is recovered exactly, smooth spectra closely.
        """
        fb = self._mel
        import torch

        share = fb / np.maximum(fb.sum(axis=0, keepdims=True), 1e-12)  # [n_mels, bins]
        return torch.from_numpy((share / fb.sum(axis=1, keepdims=True)).T.copy()).float()

    @cached_property
    def _window(self) -> torch.Tensor:
        import torch

        return torch.hann_window(self.n_fft, periodic=True, dtype=torch.float32)

    @cached_property
    def _encode_mats(self) -> tuple[np.ndarray, np.ndarray]:
        """(float32 window ``[n_fft]``, float64 DCT transposed ``[n_mels, dim]``)."""
        window = spectral.hann(self.n_fft).astype(np.float32)
        dct_t = np.ascontiguousarray(self._dct[: self.dim].T, dtype=np.float64)
        return window, dct_t

    # ---- STFT helpers (frame ``t`` is centred at sample ``t * hop + self.hop / 2``) ---
    def _frame(self, x: torch.Tensor, hop: int, frames: int) -> torch.Tensor:
        """``x`` [C, S] -> windowed frames [C, frames, n_fft] (zero-padded at both ends)."""
        left = (self.n_fft - self.hop) // 2
        right = max(0, (frames - 1) * hop + self.n_fft - left - x.shape[-1])
        import torch

        padded = torch.nn.functional.pad(x, (left, right))
        return padded.unfold(-1, self.n_fft, hop)[:, :frames] * self._window

    def _overlap_add(self, frames: torch.Tensor, hop: int) -> torch.Tensor:
        """Frames [C, F, n_fft] -> windowed overlap-add [C, (F-1)*hop + n_fft], window-power normalised."""
        import torch

        C, F, N = frames.shape
        length = (F - 1) * hop + N
        out = torch.nn.functional.fold(
            (frames * self._window).transpose(1, 2), output_size=(1, length), kernel_size=(1, N), stride=(1, hop)
        )
        return out.reshape(C, length) * self._inverse_window_sum(F, hop)

    def _inverse_window_sum(self, frames: int, hop: int) -> torch.Tensor:
        import torch

        key = (frames, hop)
        cached = self.__dict__.setdefault("_inv_norm_cache", {})
        if key not in cached:
            cached.clear()
            w2 = (self._window**2)[None, :, None].expand(1, self.n_fft, frames)
            norm = torch.nn.functional.fold(w2, output_size=(1, (frames - 1) * hop + self.n_fft), kernel_size=(1, self.n_fft), stride=(1, hop))
            cached[key] = 1.0 / norm.reshape(-1).clamp_min(1e-3)
        return cached[key]

    def encode(self, wave: np.ndarray) -> np.ndarray:
        """``[C, S]`` at ``sample_rate`` -> cepstra ``[C, dim, num_frames(S)]`` float32 (numpy only)."""
        x = np.asarray(as_2d(wave), dtype=np.float32)
        count = self.num_frames(x.shape[-1])
        window, dct_t = self._encode_mats
        left = (self.n_fft - self.hop) // 2
        fr = spectral.frames(x, self.n_fft, self.hop, pad=(left, 0), count=count)  # [C, T, n_fft]
        # FFT in float32; the two projections in float64, so the float32 result does not depend on
        # how many threads BLAS splits a matmul over (an index built by Dask workers = a local one)
        mel = spectral.project_power(fr, window, self._mel, dtype=np.float64)  # [C, T, n_mels]
        ceps = np.log(mel + _LOG_FLOOR) @ dct_t  # [C, T, dim]
        return np.ascontiguousarray(ceps.transpose(0, 2, 1), dtype=np.float32)

    # ---- decode --------------------------------------------------------------------
    def spectral_envelope(self, latents: np.ndarray) -> np.ndarray:
        """Latents ``[C, dim, T]`` -> linear magnitude ``[C, n_fft//2+1, T]`` (no phase)."""
        import torch

        return self._magnitude(torch.from_numpy(np.asarray(latents, dtype=np.float32)), upsample=1).numpy()

    def _magnitude(self, ceps: torch.Tensor, upsample: int) -> torch.Tensor:
        import torch

        dct_full = torch.from_numpy(np.array(self._dct[: self.dim])).float()  # [dim, n_mels]
        logmel = torch.einsum("dm,cdt->cmt", dct_full, ceps)  # inverse of an orthonormal DCT = transpose
        if upsample > 1:
            # frame t sits at time t + 0.5 (in hops); sample the envelope at the finer grid
            T = logmel.shape[-1]
            fine = (torch.arange(T * upsample, dtype=torch.float32) / upsample).clamp(max=T - 1)
            i0 = fine.floor().long()
            i1 = (i0 + 1).clamp(max=T - 1)
            w = (fine - i0.float())[None, None, :]
            logmel = logmel[..., i0] * (1 - w) + logmel[..., i1] * w
        mel = torch.exp(logmel)
        power = torch.einsum("km,cmt->ckt", self._mel_inverse, mel)
        return power.clamp_min(0.0).sqrt()

    def decode(self, latents: np.ndarray) -> np.ndarray:
        lat = np.asarray(latents, dtype=np.float32)
        if lat.ndim == 2:
            lat = lat[None]
        if lat.ndim != 3 or lat.shape[1] != self.dim:
            raise CodecError(f"embedded codec: latents must be [channels, {self.dim}, frames], got {list(lat.shape)}")
        import torch

        T = lat.shape[-1]
        fine_hop = self.hop // self.oversample
        with torch.inference_mode():
            mag = self._magnitude(torch.from_numpy(lat), upsample=self.oversample)
            wave = self._griffin_lim(mag, fine_hop, T * self.hop)
        return wave.numpy().astype(np.float32, copy=False)

    def _griffin_lim(self, mag: torch.Tensor, hop: int, n_out: int) -> torch.Tensor:
        """Fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99).

        ``mag`` [C, bins, F] at frame hop ``hop`` -> signal [C, n_out].
        """
        import torch

        mag = mag.transpose(1, 2)  # [C, F, bins]
        frames = mag.shape[1]
        gen = torch.Generator().manual_seed(0)
        spec = torch.polar(mag, torch.rand(mag.shape, generator=gen) * (2 * np.pi))
        prev = torch.zeros_like(spec)
        alpha = 0.99
        for _ in range(self.gl_iters):
            signal = self._overlap_add(torch.fft.irfft(spec, n=self.n_fft, dim=-1), hop)
            rebuilt = torch.fft.rfft(self._frame_padded(signal, hop, frames), dim=-1)
            proj = rebuilt * (1 + alpha) - prev * alpha
            prev = rebuilt
            spec = torch.sgn(proj).mul_(mag)
        signal = self._overlap_add(torch.fft.irfft(spec, n=self.n_fft, dim=-1), hop)
        left = (self.n_fft - self.hop) // 2
        return signal[..., left : left + n_out]

    def _frame_padded(self, signal: torch.Tensor, hop: int, frames: int) -> torch.Tensor:
        """Re-frame an overlap-added signal (already in padded coordinates)."""
        return signal.unfold(-1, self.n_fft, hop)[:, :frames] * self._window


def _check() -> tuple[bool, str]:
    return True, "built in, no weights needed"


register(
    CodecEntry(
        name="embedded",
        factory=EmbeddedCodec,
        description="DSP cepstral log-mel codec (44.1 kHz, 23 ms frames x 64); default, offline",
        check=_check,
        aliases=("dsp", "default"),
    )
)
