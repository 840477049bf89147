"""``transfer()``: numpy in / numpy out, in named stages.

``_check_source`` -> ``_open`` (corpus, codec, renderer) -> ``_encode_source`` ->
``_corpus_windows`` (matching space, windows, what may be matched) -> ``_match_channel``
(candidates, the mode's matcher from :data:`latentmorph.transfer.match.MATCHERS`, keep
source) per channel -> ``_render`` (``decode`` or ``grains``) per channel -> ``_finish``
(loudness, gate, output rate, dry/wet, level). Every run makes one :class:`TransferResult`;
sources longer than :data:`CHUNK_SECONDS` run these stages piece by piece.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph import parallel
from latentmorph.audio import as_2d, band_limit, check_wave, fit_length, resample, rms_envelope, to_db
from latentmorph.codecs import Codec
from latentmorph.errors import AudioError, CorpusError, LatentmorphError
from latentmorph.progress import Steps, listen
from latentmorph.progress import bar as progress_bar
from latentmorph.transfer import match as matchers
from latentmorph.transfer.choices import Choices
from latentmorph.transfer.corpus import TransferCorpus, open_corpus
from latentmorph.transfer.render.loudness import integrated_lufs
from latentmorph.transfer.render.envelope import frames_to_samples
from latentmorph.transfer.render.low_band import follow_in_band, heard
from latentmorph.transfer.render import onsets
from latentmorph.transfer.render.transients import shape_transients, source_attacks
from latentmorph.transfer.render import (
    RENDERERS,
    dry_wet,
    match_level,
    morph,
    render_decode,
    render_grains,
    safe_level,
    silence_gate,
)
from latentmorph.transfer.ann_search import candidates, choose_search
from latentmorph.transfer.search import score_to_distance
from latentmorph.transfer.settings import FIELDS, PRESETS, IgnoredOptionWarning, TransferSettings
from latentmorph.transfer.space import MatchSpace, audible, loudness_dims
from latentmorph.transfer.windows import chain, corpus_windows, expand, source_windows, successors

__all__ = ["PRESETS", "IgnoredOptionWarning", "SourceInCorpusWarning", "TransferResult", "TransferSettings", "transfer"]

#: Source frames within this many dB of the loudest count for the source's own statistics
#: (``normalize="both"``); pauses and breaths below it are ignored.
SOURCE_ACTIVE_DB = 30.0

#: Weight of the codec's loudness dimensions in matching, relative to each standardised
#: colour dimension (0 would leave them out). Measured on the dev pairs: 1 keeps grains
#: near the source frame's level, which cut clicks from boosted quiet grains without
#: moving the timbre back to the source.
LOUDNESS_WEIGHT = 1.0

#: Loudness following works on frames of ``hop / FOLLOW_DIVISION`` samples (~7.7 ms with
#: the embedded codec) and refines its gains ``FOLLOW_PASSES`` times. At the full hop the
#: attacks inside grains (piano, bells) broke the envelope (correlation 0.71 on speech ->
#: piano), at half a hop it held but for a source whose level stays within +-1 dB
#: (speech_david -> piano: 0.934 with 4 passes; two had not converged: 0.855). A third of a
#: hop reaches 0.954 there; before transient shaping it cost onsets (amen 0.61 -> 0.44) and
#: clicks, with it it costs neither (onsets 0.628, clicks 0.82 -> 0.61/s) and holds on the
#: cross pairs too (minimum 0.922 -> 0.959); the timbre distance rises 0.160 -> 0.167
#: (docs/transfer.md, "Sound, run 5").
FOLLOW_DIVISION = 3
FOLLOW_PASSES = 4

#: Warn that the output will largely be the source when at least this share of output
#: frames play a corpus grain whose latent equals the source frame's own latent (relative
#: error below :data:`SELF_MATCH_TOLERANCE`): the source, or most of it, is in the corpus.
SELF_MATCH_SHARE = 0.5
SELF_MATCH_TOLERANCE = 0.02


#: Sources longer than ``CHUNK_SECONDS`` (plus the overlap) are transferred in pieces of
#: about this length that overlap by ``CHUNK_OVERLAP_SECONDS`` and are joined with
#: power-complementary crossfades, so the working memory (STFTs, candidate tables,
#: render buffers: ~5 GB per hour per channel in one piece) stays that of one piece.
CHUNK_SECONDS = 300.0
CHUNK_OVERLAP_SECONDS = 1.0


class SourceInCorpusWarning(UserWarning):
    """Most output frames are the source's own frames found in the corpus."""


def self_match_share(source_latents: np.ndarray, corpus_latents: np.ndarray, ids: np.ndarray) -> float:
    """Share of frames whose chosen grain has (nearly) the source frame's own latent.

    Args:
        source_latents: ``[dim, frames]`` one channel of the source.
        corpus_latents: ``[N, dim]``.
        ids: ``[frames]`` chosen grain per frame (``-1`` = kept source, not counted as a match).
    """
    ids = np.asarray(ids)
    ok = ids >= 0
    if not ok.any():
        return 0.0
    src = source_latents.T[ok].astype(np.float64)
    got = np.asarray(corpus_latents)[ids[ok]].astype(np.float64)
    err = np.linalg.norm(src - got, axis=1) / np.maximum(np.linalg.norm(src, axis=1), 1e-9)
    return float(np.count_nonzero(err < SELF_MATCH_TOLERANCE)) / ids.shape[0]

@dataclass
class TransferResult:
    """Everything :func:`transfer` made and decided; the one result of every run.

    ``transfer()`` returns ``(result.output, result.out_sr)``, or with ``return_report``
    ``(result.output, result.out_sr, result)``.

    Attributes:
        choices: one :class:`Choices` per output channel (empty for a source transferred
            in pieces, which is never returned with a report).
        corpus: the corpus used (:class:`~latentmorph.transfer.corpus.TransferCorpus`);
            ``hop``/``frame_rate`` at the codec rate.
        settings: the effective options (:meth:`TransferSettings.as_dict` with ``render``
            and ``out_sr`` resolved, plus ``codec``).
        source_sr, out_sr, codec_name, hop, codec_sr: rates, codec, samples per frame.
        output: the output audio, in the input's layout (``[samples]`` or ``[C, samples]``).
        extra: ``source`` ``[C, S]``, ``output`` ``[C, S']`` and ``timings`` (seconds per
            stage) for plots and benchmarks.
    """

    choices: list[Choices]
    corpus: Any
    settings: dict[str, Any]
    source_sr: int
    out_sr: int
    codec_name: str
    hop: int
    codec_sr: int
    extra: dict[str, Any] = field(default_factory=dict)
    output: np.ndarray | None = None


def _score_fn(queries: np.ndarray, windows: np.ndarray, metric: str, norms: np.ndarray | None):
    """``f(p, ids) -> scores`` of source window ``p`` against corpus windows ``ids``."""
    if metric == "cosine":
        assert norms is not None, "cosine scores need the corpus windows' norms"
        qn = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)

        def f(p: int, ids: np.ndarray) -> np.ndarray:
            return (windows[ids] @ qn[p]) / np.maximum(norms[ids], 1e-12)
    elif metric == "l2":

        def f(p: int, ids: np.ndarray) -> np.ndarray:
            d = windows[ids] - queries[p]
            return -(d * d).sum(1)
    else:

        def f(p: int, ids: np.ndarray) -> np.ndarray:
            return windows[ids] @ queries[p]
    return f


def transfer(
    source_wave: np.ndarray,
    source_sr: int,
    index: Any = None,
    corpus: Any = None,
    *,
    settings: TransferSettings | None = None,
    codec: str | Codec | None = None,
    metric: str | None = None,
    mode: str | None = None,
    k: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    continuity: float | None = None,
    avoid_repeat: int | None = None,
    keep_source_threshold: float | None = None,
    strength: float | None = None,
    render: str | None = None,
    follow_loudness: bool | None = None,
    transients: bool | None = None,
    wet: float | None = None,
    out_sr: int | None = None,
    normalize: str | None = None,
    grain_filter: bool | None = None,
    search: str | None = None,
    return_report: bool = False,
    progress: bool = False,
    chunk_seconds: float | None = None,
):
    """Make ``source_wave`` take on the character of a corpus (latent granular transfer).

    Every option keyword is a field of :class:`~latentmorph.transfer.settings.TransferSettings`
    (defaults, ranges and meaning are documented there and in docs/transfer.md); ``None``
    means "not given": the value comes from ``settings`` (default ``TransferSettings()``).
    Keywords given override ``settings``. An option the chosen ``mode`` does not read
    (e.g. ``continuity`` with ``mode="nearest"``) is reported with an
    :class:`~latentmorph.transfer.settings.IgnoredOptionWarning`.

    Args:
        source_wave: ``[samples]`` or ``[channels, samples]`` float audio (stereo stays stereo).
        source_sr: its sample rate (any).
        index: a corpus index (loaded, or a ``.lmindex`` path).
        corpus: instead of ``index``: audio file/folder paths (indexed into the cache) or
            ``[(wave, sr), ...]`` arrays (encoded in memory).
        settings: a :class:`TransferSettings` (e.g. ``TransferSettings.preset("reference")``).
        codec: codec spec or instance; default the index's.
        metric: ``"cosine"`` (default), ``"l2"`` or ``"dot"`` (in the matching space).
        mode: ``"viterbi"`` (default), ``"nearest"``, ``"soft"``, ``"sample"`` (see
            :data:`latentmorph.transfer.match.MATCHERS`).
        k, temperature, seed, window, stride, continuity, avoid_repeat: matcher options.
        keep_source_threshold: keep the source frame where the best match is farther than
            this distance (cosine: ``1 - similarity``; l2: RMS per dimension; dot: minus the
            dot product per dimension, so useful thresholds are negative). Default never.
        strength: 0..1 interpolation from the source (0) to the matched grains (1).
        render: ``"grains"`` or ``"decode"``; default the codec's ``default_render``.
        follow_loudness, transients, wet, out_sr, normalize, grain_filter, search: see
            :class:`TransferSettings`.
        return_report: also return the :class:`TransferResult` (for ``report``/``plot``);
            the source is then processed in one piece.
        progress: tqdm bar on stderr (off when stderr is not a terminal); it advances per
            channel of matching and of rendering, and per piece of a long source.
        chunk_seconds: sources longer than this are transferred in overlapping pieces of
            about this length (bounded memory; default :data:`CHUNK_SECONDS`; 0 = one piece).
            Each piece restarts the continuity search and takes its own source statistics.

    Returns:
        ``(out, sr)``, or ``(out, sr, result)`` with ``return_report``. ``out`` has the
        input's layout (``[samples]`` or ``[channels, samples]``) and length
        ``round(samples * sr / source_sr)``, float32, peak <= 0.989, no NaN.
    """
    given = {name: value for name, value in locals().items() if name in FIELDS and value is not None}
    s = resolve_settings(settings, given)
    result = _run(source_wave, source_sr, index, corpus, codec, s, return_report, progress, chunk_seconds)
    if return_report:
        return result.output, result.out_sr, result
    return result.output, result.out_sr


def resolve_settings(settings: TransferSettings | None, given: dict[str, Any]) -> TransferSettings:
    """``settings`` (default ``TransferSettings()``) with the ``given`` keywords on top, checked;
    warns (:class:`IgnoredOptionWarning`) about options the mode does not read."""
    if settings is not None and not isinstance(settings, TransferSettings):
        raise LatentmorphError(f"settings: expected a TransferSettings, got {type(settings).__name__}")
    base = settings or TransferSettings()
    s = base.replace(**given) if given else base
    ignored = s.ignored(set(given) | s.changed())
    if ignored:
        what = ", ".join(f"{n}={getattr(s, n)!r}" for n in ignored)
        warnings.warn(f"{what}: no effect with mode {s.mode!r} (only {_readers(ignored)} read it)",
                      IgnoredOptionWarning, stacklevel=3)
    return s


def _readers(names: list[str]) -> str:
    modes = sorted({m for m, matcher in matchers.MATCHERS.items() for n in names if n in matcher.options})
    return "/".join(modes)


# ---- the stages ------------------------------------------------------------------------
@dataclass
class _Source:
    """The source, checked: ``wave [C, S]`` at ``sr``, and whether the caller gave ``[S]``."""

    wave: np.ndarray
    sr: int
    one_d: bool


@dataclass
class _Encoded:
    """The source at the codec rate: ``audio [C, S_c]`` and its latents ``[C, D, T]``."""

    audio: np.ndarray
    latents: np.ndarray


@dataclass
class _Windows:
    """The corpus in the matching space.

    ``space``; ``windows [N, D']`` (one per grain); ``valid [N]`` (may be matched);
    ``succ [N]`` next grain in corpus order; ``next_valid [N]`` the usable grain ``stride``
    frames on; ``norms [N]`` (cosine) or ``None``.
    """

    space: MatchSpace
    windows: np.ndarray
    valid: np.ndarray
    succ: np.ndarray
    next_valid: np.ndarray
    norms: np.ndarray | None


def _run(source_wave: np.ndarray, source_sr: int, index: Any, corpus: Any, codec: str | Codec | None,
         s: TransferSettings, keep_one_piece: bool, progress: bool, chunk_seconds: float | None) -> TransferResult:
    """All stages; the piecewise path for long sources."""
    choose_search(s.search, 0)  # a bad value fails before any work
    src = _check_source(source_wave, source_sr)
    out_sr = int(s.out_sr or src.sr)
    piece = CHUNK_SECONDS if chunk_seconds is None else float(chunk_seconds)
    if not keep_one_piece and piece > 0 and src.wave.shape[-1] > (piece + 2 * CHUNK_OVERLAP_SECONDS) * src.sr:
        corp = open_corpus(index, corpus, codec, progress=progress)
        out = _transfer_in_pieces(src.wave, src.sr, out_sr, corp, piece, progress, s)
        c = corp.codec()
        return TransferResult([], corp, _report_settings(s, c, _render_name(s, c), out_sr), src.sr, out_sr, c.name,
                              int(corp.hop), int(corp.sample_rate), output=out[0] if src.one_d else out)

    clock = {"start": time.perf_counter()}
    corp, c, render = _open(index, corpus, codec, s, progress)
    clock["corpus"] = time.perf_counter()
    C = src.wave.shape[0]
    bar = _bar(progress, total=2 + 2 * C)  # encode, C x match, C x render, finish
    bar.set_postfix_str("encode")
    enc = _encode_source(src, corp, c, bar)
    dry = _dry(src, out_sr, s, enc, int(corp.sample_rate), render)  # measured in the background while matching runs
    clock["encode"] = time.perf_counter()
    wins = _cached_windows(corp, c, s, render)
    bar.set_postfix_str("match")
    choices = []
    for ch in range(C):
        choices.append(_match_channel(ch, enc, wins, corp, s, render))
        bar.update(1)
    clock["match"] = time.perf_counter()
    bar.set_postfix_str("render")
    wet_sig = _render(render, choices, corp, c, enc, wins.succ, bar)
    clock["render"] = time.perf_counter()
    bar.set_postfix_str("finish")
    out = _finish(wet_sig, enc, src, out_sr, corp, s, render, dry, np.stack([ch.kept for ch in choices]))
    bar.update(1)
    bar.close()
    clock["finish"] = time.perf_counter()
    return TransferResult(choices, corp, _report_settings(s, c, render, out_sr), src.sr, out_sr, c.name,
                          int(corp.hop), int(corp.sample_rate),
                          extra={"source": src.wave, "output": out, "timings": _stage_seconds(clock)},
                          output=out[0] if src.one_d else out)


def _bar(progress: bool, total: int, desc: str = "transfer"):  # noqa: ANN202
    return progress_bar(total, desc, progress)


def _check_source(source_wave: np.ndarray, source_sr: int) -> _Source:
    """Stage 0: the source as ``[C, S]`` float32, checked (NaN, silence, rate)."""
    one_d = np.ndim(source_wave) == 1
    try:
        wave = as_2d(source_wave)
    except ValueError as err:
        raise AudioError(f"source: {err}") from None
    wave = check_wave(wave, source_sr, "source")
    return _Source(wave, int(source_sr), one_d)


def _render_name(s: TransferSettings, c: Codec) -> str:
    """The renderer: the settings', else the codec's declared ``default_render``."""
    return s.render or c.default_render


def _open(index: Any, corpus: Any, codec: str | Codec | None, s: TransferSettings,
          progress: bool) -> tuple[TransferCorpus, Codec, str]:
    """Stage 1: the corpus, its codec and the renderer (checked against the codec)."""
    corp = open_corpus(index, corpus, codec, progress=progress)
    if len(corp) == 0:
        raise CorpusError(f"{corp.path or 'corpus'}: the corpus index holds no grains")
    c = corp.codec()
    render = _render_name(s, c)
    if render not in RENDERERS:
        raise LatentmorphError(f"codec {c.name} declares default_render {render!r}; use one of {', '.join(RENDERERS)}")
    if render == "decode" and not c.can_decode:
        raise LatentmorphError(f"codec {c.name} cannot decode; use render='grains'")
    return corp, c, render


def _encode_source(src: _Source, corp: TransferCorpus, c: Codec, bar: Any) -> _Encoded:
    """Stage 2: the source resampled to the codec rate ``[C, S_c]`` and encoded ``[C, D, T]``
    (one bar step, moved along by a codec that reports its chunks)."""
    audio = resample(src.wave, src.sr, int(corp.sample_rate))
    steps = Steps(bar, 1)
    with listen(steps):
        latents = c.encode(audio)
    steps.finish()
    return _Encoded(audio, latents)


def _corpus_windows(corp: TransferCorpus, c: Codec, s: TransferSettings, render: str) -> _Windows:
    """Stage 3: the matching space, the corpus windows in it and which of them may be matched."""
    space = MatchSpace.fit(corp.latents, loudness_dims(c), s.normalize, LOUDNESS_WEIGHT)
    g = corp.grains
    succ = successors(np.asarray(g.file_id), np.asarray(g.channel), np.asarray(g.aug), np.asarray(g.frame))
    feats = onsets.with_change(space.corpus(corp.latents), onsets.predecessors(succ))  # onset-aware matching
    win, valid = corpus_windows(feats, succ, int(s.window), skip_edges=s.grain_filter)
    if s.grain_filter:
        loud = audible(corp, c, read_audio=render == "grains")
        if (valid & loud).any():
            valid = valid & loud
    if not valid.any():
        raise CorpusError(f"{corp.path or 'corpus'}: every corpus file is shorter than the {s.window}-frame window")
    next_of = chain(succ, int(s.stride) + 1)[:, -1]
    next_valid = np.where((next_of >= 0) & valid[np.maximum(next_of, 0)], next_of, -1)
    norms = np.linalg.norm(win, axis=1) if s.metric == "cosine" else None
    return _Windows(space, win, valid, succ, next_valid, norms)


#: The last corpus windows per corpus object (weakly held: gone with the corpus), keyed
#: by what they depend on. The matching-space fit, windows and filters cost ~0.7 s for a
#: 60 min corpus: a second transfer against the same loaded index reuses them.
_WINDOWS: "weakref.WeakKeyDictionary[Any, tuple[tuple, _Windows]]" = weakref.WeakKeyDictionary()


def _cached_windows(corp: TransferCorpus, c: Codec, s: TransferSettings, render: str) -> _Windows:
    """:func:`_corpus_windows`, reused while the corpus object, its generation and size, the
    codec and the settings it reads are the same (arrays returned read-only)."""
    key = (corp.generation, len(corp), c.fingerprint, s.normalize, int(s.window), int(s.stride), s.metric,
           bool(s.grain_filter), render)
    try:
        hit = _WINDOWS.get(corp)
    except TypeError:  # a corpus that cannot be weakly referenced: no cache
        return _corpus_windows(corp, c, s, render)
    if hit is not None and hit[0] == key:
        return hit[1]
    wins = _corpus_windows(corp, c, s, render)
    for arr in (wins.windows, wins.valid, wins.succ, wins.next_valid, wins.norms):
        if arr is not None:
            arr.flags.writeable = False
    _WINDOWS[corp] = (key, wins)
    return wins


def _match_channel(ch: int, enc: _Encoded, wins: _Windows, corp: TransferCorpus, s: TransferSettings,
                   render: str) -> Choices:
    """Stage 4, one channel: source windows -> candidates -> the mode's matcher -> frame choices."""
    hop = int(corp.hop)
    lat = enc.latents[ch]  # [D, T]
    T = lat.shape[-1]
    level = to_db(rms_envelope(enc.audio[ch], hop))
    level = np.pad(level, (0, max(0, T - level.shape[0])), mode="edge")[:T]
    active = level > level.max() - SOURCE_ACTIVE_DB
    feats = onsets.with_change(wins.space.source(lat.T, active), np.arange(T) - 1)  # onset-aware matching
    q, starts = source_windows(feats, int(s.window), int(s.stride))
    matcher = matchers.MATCHERS[s.mode]
    folder = corp.path if corp.path is not None and Path(str(corp.path)).is_dir() else None
    scores, ids = candidates(q, wins.windows, matcher.candidates(s), s.metric, wins.valid, search=s.search,
                             folder=folder, generation=corp.generation)
    problem = matchers.MatchProblem(scores, ids, wins.next_valid, _score_fn(q, wins.windows, s.metric, wins.norms), ch)
    pc = matcher.run(problem, s)
    dist = score_to_distance(pc.scores, s.metric, dims=wins.windows.shape[1])
    matchers.keep_source(pc, dist, s.keep_source_threshold)
    frame_ids = expand(pc.ids, starts, T, wins.succ)
    which = np.searchsorted(starts, np.arange(T), side="right") - 1
    if ch == 0:
        share = self_match_share(lat, corp.latents, frame_ids[:, 0])
        if share >= SELF_MATCH_SHARE:
            warnings.warn(
                f"{corp.path or 'corpus'}: {share:.0%} of the output frames are the source's own frames "
                "found in the corpus (the source, or most of it, is in the corpus); the output will largely be the source",
                SourceInCorpusWarning, stacklevel=4)
    amount = 1.0 if render == "grains" else s.strength  # grains morph after rendering (mix.morph, in _finish)
    return Choices(frame_ids, pc.weights[which], dist[which], np.full(T, amount, np.float32))


def _render(render: str, choices: list[Choices], corp: TransferCorpus, c: Codec, enc: _Encoded,
            succ: np.ndarray, bar: Any) -> np.ndarray:
    """Stage 5: the renderer -> ``[C, T*hop]`` at the codec rate.

    Grains render channel by channel (one bar step each; channels are independent). The
    codec decodes all channels in one call (a decoder may treat them as one batch, so a
    per-channel call would not give the same samples); a codec that reports its chunks
    (:mod:`latentmorph.progress`, e.g. ``codecs.chunked.run_chunked``) moves the bar
    through that call, others take the steps when it returns.
    """
    if render == "decode":
        steps = Steps(bar, len(choices))
        with listen(steps):  # a chunked decoder moves the bar chunk by chunk
            out = render_decode(choices, corp.latents, enc.latents, c, succ=succ)  # succ: soften jumps
        steps.finish()
        return out
    outs = []
    for ch, choice in enumerate(choices):
        outs.append(render_grains([choice], corp, succ, enc.audio[ch:ch + 1], int(corp.hop)))
        bar.update(1)
    return np.concatenate(outs, axis=0)


@dataclass
class _Dry:
    """What stage 6 needs from the source alone, prepared before matching: the source at the
    output rate ``wave [C, S_out]``; with loudness following its integrated loudness (LUFS)
    and the source at the codec rate as the follow reads it (:func:`~latentmorph.transfer.render.low_band.heard`),
    and with transient shaping its attacks (sample positions at the codec rate,
    :func:`~latentmorph.transfer.render.transients.source_attacks`), all measured on a
    background thread (:mod:`latentmorph.parallel`) while the corpus is matched:
    ``loudness.result()``, ``heard.result()``, ``attacks.result()``."""

    wave: np.ndarray
    loudness: "Future[float] | None"
    heard: "Future[np.ndarray] | None"
    attacks: "Future[np.ndarray] | None"


def _dry(src: _Source, out_sr: int, s: TransferSettings, enc: _Encoded, codec_sr: int, render: str) -> _Dry:
    """The source's part of stage 6, started before matching (it depends only on the source)."""
    n_out = int(round(src.wave.shape[-1] * out_sr / src.sr))
    wave = fit_length(src.wave if out_sr == src.sr else resample(src.wave, src.sr, out_sr), n_out)
    loudness = parallel.submit(integrated_lufs, wave, out_sr) if s.follow_loudness else None
    heard_source = parallel.submit(heard, enc.audio, int(codec_sr)) if s.follow_loudness else None
    attacks = parallel.submit(source_attacks, enc.audio, int(codec_sr)) if _shapes_transients(s, render) else None
    return _Dry(wave, loudness, heard_source, attacks)


def _shapes_transients(s: TransferSettings, render: str) -> bool:
    """Whether stage 6 shapes transients: when asked, unless the grains' strength 0 gives the source back."""
    return s.transients and not (render == "grains" and s.strength <= 0.0)


def _finish(wet_sig: np.ndarray, enc: _Encoded, src: _Source, out_sr: int, corp: TransferCorpus,
            s: TransferSettings, render: str, dry: _Dry, kept: np.ndarray) -> np.ndarray:
    """Stage 6: loudness follow, transient emphasis at the source's onsets, strength morph (grains), silence gate, output rate, dry/wet, then
    the source's integrated loudness with a true-peak limiter (or only a safe peak without
    loudness following) -> ``[C, S_out]``. ``dry``: :func:`_dry`, started before matching;
    ``kept [C, T]``: the frames where the source itself is kept (``Choices.kept`` per channel)."""
    hop, csr = int(corp.hop), int(corp.sample_rate)
    n_c = enc.audio.shape[-1]
    wet_sig = fit_length(wet_sig, n_c)
    # what the output rate keeps: loudness, attacks and the morph work on the band that is heard
    # (following the whole band of an 8 kHz transfer into water left a wobbling envelope: the
    # share of the render above 4 kHz varies frame to frame and is cut afterwards)
    wet_sig = band_limit(wet_sig, csr, out_sr)
    if s.follow_loudness:  # (with no DC, rumble or thumps under the render's own band: render/low_band.py)
        wet_sig = follow_in_band(wet_sig, enc.audio, csr, max(1, hop // FOLLOW_DIVISION), passes=FOLLOW_PASSES,
                                 heard_source=None if dry.heard is None else dry.heard.result(),
                                 plays_source=frames_to_samples(kept, hop, n_c) if kept.any() else None)
    if dry.attacks is not None:  # (_shapes_transients) the top of the spectrum attacks on the source's onsets only
        wet_sig = shape_transients(wet_sig, enc.audio, csr, top_hz=0.5 * out_sr, attacks=dry.attacks.result())
    if render == "grains":  # level-matched morph source -> corpus
        wet_sig = morph(wet_sig, enc.audio, s.strength, csr)
    wet_sig = silence_gate(wet_sig, enc.audio, hop)
    wet_out = fit_length(resample(wet_sig, csr, out_sr), dry.wave.shape[-1])
    mixed = dry_wet(wet_out, dry.wave, s.wet)
    if not s.follow_loudness:
        return safe_level(mixed)
    return match_level(mixed, dry.wave, out_sr, target=None if dry.loudness is None else dry.loudness.result())


def _report_settings(s: TransferSettings, c: Codec, render: str, out_sr: int) -> dict[str, Any]:
    """What the report stores: the settings with ``render``/``out_sr`` resolved, and the codec."""
    return {"codec": c.name, **s.as_dict(), "render": render, "out_sr": out_sr}


def _transfer_in_pieces(wave: np.ndarray, sr: int, out_sr: int, corp: TransferCorpus, piece_s: float, progress: bool,
                        s: TransferSettings) -> np.ndarray:
    """Transfer ``wave [C, S]`` piece by piece; pieces overlap and meet with sine/cosine crossfades.

    The bar advances once per piece. Returns ``[C, round(S * out_sr / sr)]`` float32, peak
    <= the safe level.
    """
    n = wave.shape[-1]
    count = int(np.ceil(n / (piece_s * sr)))
    step = int(np.ceil(n / count))
    lap = int(round(CHUNK_OVERLAP_SECONDS * sr))
    n_out = int(round(n * out_sr / sr))
    lap_out = int(round(lap * out_sr / sr))
    out = np.zeros((wave.shape[0], n_out), np.float32)
    fade_in = np.sin(0.5 * np.pi * (np.arange(lap_out) + 0.5) / max(lap_out, 1)).astype(np.float32)
    fade_out = np.sqrt(np.maximum(0.0, 1.0 - fade_in**2)).astype(np.float32)
    bar = _bar(progress, total=count, desc="transfer (pieces)")
    with warnings.catch_warnings():
        for i in range(count):
            a, b = max(0, i * step - lap), min(n, (i + 1) * step)
            piece = dataclasses.replace(s, out_sr=out_sr, seed=None if s.seed is None else int(s.seed) + 7919 * i)
            y = _run(wave[:, a:b], sr, corp, None, None, piece, False, False, 0).extra["output"]
            if i == 0:
                warnings.simplefilter("ignore", SourceInCorpusWarning)  # said once, for the first piece
            a_out = int(round(a * out_sr / sr))
            y = y[:, : n_out - a_out]
            if i > 0 and lap_out:
                m = min(lap_out, y.shape[-1])
                out[:, a_out : a_out + m] *= fade_out[:m]
                y[:, :m] *= fade_in[:m]
                out[:, a_out : a_out + y.shape[-1]] += y
            else:
                out[:, a_out : a_out + y.shape[-1]] = y
            del y
            bar.update(1)
    bar.close()
    return safe_level(out)


def _stage_seconds(clock: dict[str, float]) -> dict[str, float]:
    """Seconds per stage (corpus, encode, match, render, finish) from the time marks."""
    names = list(clock)
    return {b: clock[b] - clock[a] for a, b in zip(names[:-1], names[1:])}

