"""Beat tracking and the beat-phase sawtooth (numpy/scipy only).

Pipeline (after Ellis 2007, "Beat tracking by dynamic programming"):

1. onset strength: :func:`latentmorph.evaluate.features.onset_envelope` of the mono mix
   resampled to 22050 Hz (frames every 256 samples, about 86 frames/s), high-passed by
   removing its 1-second moving mean and normalised by its standard deviation;
2. tempogram: the autocorrelation of the onset envelope over 8-second windows, read as a
   comb filter (the mean autocorrelation at 1, 2, 3 and 4 times each candidate period) on a
   log-spaced grid of tempi, weighted by a log-Gaussian perceptual prior (centre 120 BPM,
   1 octave wide) over ``bpm_range``;
3. global tempo: the peak of the window-averaged tempogram, refined between grid points;
   local tempo: a Viterbi path through the windowed tempogram that pays for every change, so
   the beats can follow a tempo change;
4. beats: dynamic programming that maximises the onset strength at the beats plus
   ``-tightness * log(interval / period)**2`` for every interval between consecutive beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentmorph.errors import ConditionError

#: Rate the audio is resampled to before the onset envelope (1024-sample frames, hop 256).
ANALYSIS_SR = 22050

#: Seconds of onset envelope in one tempogram window, and the hop between windows.
WINDOW_SECONDS = 8.0
WINDOW_HOP_SECONDS = 1.0

#: Tempo grid resolution (octaves between neighbouring candidate tempi).
GRID_OCTAVES = 1.0 / 96.0

#: Peak level under which the input counts as silence (about -90 dBFS, as in latentmorph.audio).
_SILENT_PEAK = 3e-5


@dataclass(frozen=True)
class BeatTrack:
    """Result of :func:`track_beats`.

    Attributes:
        bpm: global tempo estimate in beats per minute (``nan`` for silence).
        beats: float64 ``[B]`` beat times in seconds, increasing (empty for silence).
    """

    bpm: float
    beats: np.ndarray


@dataclass(frozen=True)
class OnsetStrength:
    """Normalised onset envelope ``env`` float64 ``[T]``; frame ``t`` is at ``t / frame_rate`` s."""

    env: np.ndarray
    frame_rate: float


def onset_strength(wave: np.ndarray, sr: int) -> OnsetStrength | None:
    """Onset envelope of ``wave`` ([C, S] or [S]) for beat tracking; ``None`` when silent."""
    from scipy.ndimage import uniform_filter1d

    from latentmorph.audio.resample import resample
    from latentmorph.evaluate.features import frame_size, mono, onset_envelope

    if sr is None or int(sr) <= 0:
        raise ConditionError(f"beat tracking: invalid sample rate {sr!r}")
    x = mono(wave)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ConditionError("beat tracking: the audio is empty or holds NaN/Inf samples")
    if float(np.max(np.abs(x))) < _SILENT_PEAK:
        return None
    x = resample(x.astype(np.float32), int(sr), ANALYSIS_SR).astype(np.float64)
    frame_rate = ANALYSIS_SR / (frame_size(ANALYSIS_SR) // 4)
    env = onset_envelope(x, ANALYSIS_SR)
    width = max(3, int(round(frame_rate)) | 1)
    env = np.maximum(0.0, env - uniform_filter1d(env, size=width, mode="nearest"))
    std = env.std()
    if not np.isfinite(std) or std <= 1e-12:
        return None
    return OnsetStrength(env=env / std, frame_rate=frame_rate)


def _bpm_grid(bpm_range: tuple[float, float]) -> np.ndarray:
    lo, hi = float(bpm_range[0]), float(bpm_range[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ConditionError(f"beat tracking: bpm_range must be two increasing positive numbers, got {bpm_range!r}")
    n = max(2, int(math.ceil(math.log2(hi / lo) / GRID_OCTAVES)) + 1)
    return lo * 2.0 ** np.linspace(0.0, math.log2(hi / lo), n)


def _autocorrelation(seg: np.ndarray) -> np.ndarray:
    """Unbiased, lag-0-normalised autocorrelation of a mean-removed segment, ``[len(seg)]``."""
    seg = seg - seg.mean()
    n = seg.shape[0]
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(seg, size)
    ac = np.fft.irfft(spec.real**2 + spec.imag**2, size)[:n]
    if ac[0] <= 1e-12:
        return np.zeros(n)
    ac = ac / (n - np.arange(n))  # unbiased: long lags are not penalised for overlapping less
    return ac / ac[0]


def _comb(ac: np.ndarray, periods: np.ndarray, max_lag: float, harmonics: int = 4) -> np.ndarray:
    """Mean autocorrelation at 1..harmonics times each period (frames), lags up to ``max_lag``."""
    lags = np.arange(ac.shape[0], dtype=np.float64)
    total = np.zeros(periods.shape[0])
    count = np.zeros(periods.shape[0])
    for k in range(1, harmonics + 1):
        lag = k * periods
        ok = lag <= max_lag
        total[ok] += np.interp(lag[ok], lags, ac)
        count[ok] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _prior(grid: np.ndarray, start_bpm: float, std_octaves: float) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(grid / start_bpm) / std_octaves) ** 2)


def tempogram(onsets: OnsetStrength, grid: np.ndarray) -> np.ndarray:
    """Comb-filter tempogram ``[W, len(grid)]`` over 8-s windows hopped by 1 s (no prior)."""
    env, fr = onsets.env, onsets.frame_rate
    win = int(round(WINDOW_SECONDS * fr))
    hop = int(round(WINDOW_HOP_SECONDS * fr))
    periods = 60.0 * fr / grid
    if env.shape[0] <= win:
        starts = [0]
        win = env.shape[0]
    else:
        starts = list(range(0, env.shape[0] - win + 1, hop))
        if starts[-1] + win < env.shape[0]:
            starts.append(env.shape[0] - win)
    rows = []
    for s in starts:
        ac = _autocorrelation(env[s : s + win])
        # lags beyond 3/4 of the window rest on too few products to trust
        rows.append(_comb(ac, periods, max_lag=0.75 * (win - 1)))
    return np.maximum(np.asarray(rows), 0.0)


def _refine(grid: np.ndarray, score: np.ndarray, j: int) -> float:
    """Parabolic interpolation of the peak at ``j`` on the log-tempo axis."""
    if 0 < j < grid.shape[0] - 1:
        a, b, c = score[j - 1], score[j], score[j + 1]
        den = a - 2 * b + c
        if den < 0:
            shift = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
            step = math.log2(grid[1] / grid[0])
            return float(grid[j] * 2.0 ** (shift * step))
    return float(grid[j])


def _local_tempo(tg: np.ndarray, grid: np.ndarray, weight: np.ndarray, change_cost: float = 12.0) -> np.ndarray:
    """Viterbi path (grid indices ``[W]``) through the windowed tempogram.

    Each window scores ``log(tempogram * prior)``; moving between tempi costs
    ``change_cost`` per octave, so the path changes tempo only on clear evidence.
    """
    emit = np.log(tg * weight[None, :] + 1e-3)
    step = math.log2(grid[1] / grid[0])
    idx = np.arange(grid.shape[0])
    trans = -change_cost * step * np.abs(idx[:, None] - idx[None, :])  # [from, to]
    score = emit[0].copy()
    back = np.zeros(tg.shape, dtype=np.int64)
    for w in range(1, tg.shape[0]):
        cand = score[:, None] + trans
        back[w] = np.argmax(cand, axis=0)
        score = cand[back[w], idx] + emit[w]
    path = np.zeros(tg.shape[0], dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for w in range(tg.shape[0] - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    return path


def _period_per_frame(onsets: OnsetStrength, grid: np.ndarray, path: np.ndarray, bpm: float) -> np.ndarray:
    """Beat period in frames for every onset frame, from the local tempo path."""
    fr, n = onsets.frame_rate, onsets.env.shape[0]
    local = grid[path].astype(np.float64)
    # where the path sits within two grid steps of the refined global tempo, use the refined value
    close = np.abs(np.log2(local / bpm)) <= 2.0 * math.log2(grid[1] / grid[0])
    local[close] = bpm
    win = min(int(round(WINDOW_SECONDS * fr)), n)
    hop = int(round(WINDOW_HOP_SECONDS * fr))
    centres = win / 2.0 + hop * np.arange(local.shape[0])
    centres = np.minimum(centres, n - win / 2.0)
    bpm_t = np.interp(np.arange(n), centres, local) if local.shape[0] > 1 else np.full(n, local[0])
    return 60.0 * fr / bpm_t


def _dp_beats(env: np.ndarray, period: np.ndarray, tightness: float) -> np.ndarray:
    """Ellis's dynamic programme: frame indices of the best beat sequence."""
    n = env.shape[0]
    score = np.zeros(n)
    back = np.full(n, -1, dtype=np.int64)
    for t in range(n):
        p = period[t]
        hi = t - int(round(p / 2.0))
        if hi < 0:
            score[t] = env[t]
            continue
        lo = max(0, t - int(round(2.0 * p)))
        taus = np.arange(lo, hi + 1)
        cand = score[lo : hi + 1] - tightness * np.log((t - taus) / p) ** 2
        j = int(np.argmax(cand))
        if cand[j] > 0.0:
            score[t] = env[t] + cand[j]
            back[t] = taus[j]
        else:
            score[t] = env[t]
    # the last beat: the best-scoring frame within the final period
    tail = max(0, n - int(round(period[-1])))
    t = tail + int(np.argmax(score[tail:]))
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.asarray(beats[::-1], dtype=np.int64)


def _trim(beats: np.ndarray, env: np.ndarray, ratio: float = 0.2) -> np.ndarray:
    """Drop leading/trailing beats with hardly any onset (beats the DP carried through silence)."""
    if beats.size == 0:
        return beats
    # onset strength around each beat (+-2 frames, the peak may sit one frame off)
    near = np.array([env[max(0, b - 2) : b + 3].max() for b in beats])
    floor = ratio * float(np.median(near[near > 0])) if np.any(near > 0) else np.inf
    strong = np.flatnonzero(near >= floor)
    if strong.size == 0:
        return beats[:0]
    return beats[strong[0] : strong[-1] + 1]


#: Seconds between a sharp onset and the onset-envelope frame that peaks for it
#: (the rise of a 46 ms window shows before its centre); measured on click tracks.
ONSET_LATENCY_S = -0.0116


def _global(onsets: OnsetStrength, grid: np.ndarray, start_bpm: float, std_octaves: float):
    tg = tempogram(onsets, grid)
    weight = _prior(grid, start_bpm, std_octaves)
    total = tg.mean(axis=0) * weight
    if not np.any(total > 0):
        return tg, weight, float("nan")
    return tg, weight, _refine(grid, total, int(np.argmax(total)))


def track_beats(
    wave: np.ndarray,
    sr: int,
    *,
    bpm_range: tuple[float, float] = (60.0, 200.0),
    start_bpm: float = 120.0,
    std_octaves: float = 1.0,
    tightness: float = 100.0,
) -> BeatTrack:
    """Estimate the global tempo and the beat times of ``wave``.

    Args:
        wave: ``[C, S]`` or ``[S]`` float audio (mixed to mono inside).
        sr: sample rate in Hz.
        bpm_range: tempi considered, in BPM.
        start_bpm, std_octaves: centre and width (octaves) of the log-Gaussian tempo prior.
        tightness: weight of the log-Gaussian interval penalty in the beat DP (higher keeps the
            beats closer to the period).

    Returns:
        :class:`BeatTrack` with ``bpm`` and float64 ``[B]`` beat times in seconds; silence gives
        ``BeatTrack(nan, empty)``.
    """
    grid = _bpm_grid(bpm_range)
    onsets = onset_strength(wave, sr)
    empty = BeatTrack(bpm=float("nan"), beats=np.zeros(0, dtype=np.float64))
    if onsets is None:
        return empty
    tg, weight, bpm = _global(onsets, grid, start_bpm, std_octaves)
    if not np.isfinite(bpm):
        return empty
    path = _local_tempo(tg, grid, weight)
    period = _period_per_frame(onsets, grid, path, bpm)
    frames = _trim(_dp_beats(onsets.env, period, tightness), onsets.env)
    times = frames / onsets.frame_rate - ONSET_LATENCY_S
    return BeatTrack(bpm=bpm, beats=np.maximum(times, 0.0).astype(np.float64))


def estimate_bpm(
    wave: np.ndarray,
    sr: int,
    *,
    bpm_range: tuple[float, float] = (60.0, 200.0),
    start_bpm: float = 120.0,
    std_octaves: float = 1.0,
) -> float:
    """Global tempo of ``wave`` ([C, S] or [S]) in BPM (``nan`` for silence); no beat DP."""
    grid = _bpm_grid(bpm_range)
    onsets = onset_strength(wave, sr)
    if onsets is None:
        return float("nan")
    return _global(onsets, grid, start_bpm, std_octaves)[2]


_BELOW_ONE = np.float32(1.0) - np.float32(2.0**-24)


def _as_phase(phase: np.ndarray) -> np.ndarray:
    # float64 values just under 1 would round to 1.0 in float32: keep the sawtooth in [0, 1)
    return np.minimum(np.mod(phase, 1.0).astype(np.float32), _BELOW_ONE)


def beat_phase(
    beats: np.ndarray, frame_rate: float, n_frames: int, *, bpm: float | None = None
) -> np.ndarray:
    """Per-frame beat phase: a sawtooth in [0, 1), 0 at each beat, rising linearly to the next.

    Args:
        beats: ``[B]`` increasing beat times in seconds.
        frame_rate: frames per second; frame ``i`` is at ``i / frame_rate`` seconds.
        n_frames: number of output frames.
        bpm: tempo used when fewer than two beats are given (one beat: a steady sawtooth
            through it; none: starting at 0 s). Without it, fewer than two beats give zeros.

    Returns:
        float32 ``[n_frames]``. Before the first and after the last beat the sawtooth goes on
        at the local period (the first / last inter-beat interval).
    """
    if frame_rate <= 0 or n_frames < 0:
        raise ValueError(f"beat_phase: need frame_rate > 0 and n_frames >= 0, got {frame_rate}, {n_frames}")
    b = np.asarray(beats, dtype=np.float64).reshape(-1)
    if b.size and (not np.all(np.isfinite(b)) or np.any(np.diff(b) <= 0)):
        raise ValueError("beat_phase: beat times must be finite and strictly increasing")
    if b.size < 2:
        if bpm is None or not math.isfinite(bpm):  # e.g. BeatTrack(nan, empty) of silence
            return np.zeros(n_frames, dtype=np.float32)
        return phase_from_bpm(bpm, frame_rate, n_frames, offset_s=float(b[0]) if b.size else 0.0)
    t = np.arange(n_frames, dtype=np.float64) / frame_rate
    k = np.clip(np.searchsorted(b, t, side="right") - 1, 0, b.size - 2)  # interval index
    phase = (t - b[k]) / (b[k + 1] - b[k])  # <0 before the first beat, >=1 after the last
    return _as_phase(phase)


def phase_from_bpm(bpm: float, frame_rate: float, n_frames: int, *, offset_s: float = 0.0) -> np.ndarray:
    """Sawtooth of a steady tempo: float32 ``[n_frames]`` in [0, 1), 0 at ``offset_s + k * 60 / bpm``."""
    if not (isinstance(bpm, (int, float, np.floating, np.integer)) and math.isfinite(bpm) and bpm > 0):
        raise ConditionError(f"tempo must be a positive number of BPM, got {bpm!r}")
    if frame_rate <= 0 or n_frames < 0:
        raise ValueError(f"phase_from_bpm: need frame_rate > 0 and n_frames >= 0, got {frame_rate}, {n_frames}")
    t = np.arange(n_frames, dtype=np.float64) / frame_rate
    return _as_phase((t - offset_s) * float(bpm) / 60.0)


def tempo_adherence(wave: np.ndarray, sr: int, asked_bpm: float, **options) -> dict:
    """How well ``wave`` keeps the tempo ``asked_bpm`` (for generated audio).

    Returns:
        ``{"asked_bpm", "bpm", "rel_error", "octave_error", "octave_factor"}``: the estimated
        tempo (:func:`estimate_bpm`, ``options`` passed on), ``|bpm - asked| / asked``, and the
        same error after the best of the factors 1/2, 1 and 2 (``octave_factor``) — a track
        heard at half or double the asked tempo counts as right in ``octave_error``. For
        silence every number but ``asked_bpm`` is ``nan``.
    """
    if not (math.isfinite(float(asked_bpm)) and float(asked_bpm) > 0):
        raise ConditionError(f"tempo must be a positive number of BPM, got {asked_bpm!r}")
    asked = float(asked_bpm)
    bpm = estimate_bpm(wave, sr, **options)
    if not math.isfinite(bpm):
        nan = float("nan")
        return {"asked_bpm": asked, "bpm": nan, "rel_error": nan, "octave_error": nan, "octave_factor": nan}
    errors = {f: abs(bpm * f - asked) / asked for f in (1.0, 0.5, 2.0)}
    factor = min(errors, key=lambda f: errors[f])
    return {
        "asked_bpm": asked,
        "bpm": bpm,
        "rel_error": errors[1.0],
        "octave_error": errors[factor],
        "octave_factor": factor,
    }
