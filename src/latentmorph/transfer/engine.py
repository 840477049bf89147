"""``transfer()``: encode -> search -> match -> render, numpy in / numpy out."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from latentmorph.audio import as_2d, check_wave, fit_length, resample, rms_envelope, to_db
from latentmorph.codecs import Codec
from latentmorph.errors import AudioError, CorpusError, LatentmorphError
from latentmorph.numbers import check_options
from latentmorph.transfer import match as matchers
from latentmorph.transfer.choices import Choices
from latentmorph.transfer.corpus import open_corpus
from latentmorph.transfer.render.loudness import follow_loudness as _follow_loudness
from latentmorph.transfer.render import onsets
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
from latentmorph.transfer.search import METRICS, score_to_distance
from latentmorph.transfer.space import NORMALIZE, MatchSpace, audible, loudness_dims
from latentmorph.transfer.windows import chain, corpus_windows, expand, source_windows, successors

#: Renderer each codec sounds best with (others: ``decode`` when the codec can decode).
DEFAULT_RENDER = {"embedded": "grains", "music2latent": "decode"}

#: Source frames within this many dB of the loudest count for the source's own statistics
#: (``normalize="both"``); pauses and breaths below it are ignored.
SOURCE_ACTIVE_DB = 30.0

#: Weight of the codec's loudness dimensions in matching, relative to each standardised
#: colour dimension (0 would leave them out). Measured on the dev pairs: 1 keeps grains
#: near the source frame's level, which cut clicks from boosted quiet grains without
#: moving the timbre back to the source.
LOUDNESS_WEIGHT = 1.0

#: Loudness following works on frames of ``hop / FOLLOW_DIVISION`` samples (~12 ms with
#: the embedded codec): at the full hop the attacks inside grains (piano, bells) broke
#: the envelope (correlation 0.71 on speech -> piano), at half a hop it holds (0.94).
FOLLOW_DIVISION = 2

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

#: Named settings. ``reference`` is the baseline workflow (independent nearest-neighbour
#: picks, decoded, 20% dry); ``default`` is what ``transfer()`` does with no options.
PRESETS: dict[str, dict[str, Any]] = {
    "reference": dict(mode="nearest", render="decode", follow_loudness=False, wet=0.8, continuity=0.0,
                      avoid_repeat=0, window=1, stride=1, normalize="none", k=1, grain_filter=False),
    "default": {},
}


@dataclass
class TransferResult:
    """Everything :func:`transfer` decided, for reports and plots.

    Attributes:
        choices: one :class:`Choices` per output channel.
        corpus: the corpus used (index surface); ``hop``/``frame_rate`` at the codec rate.
        settings: the effective options.
        source_sr, out_sr, codec_name: rates and codec.
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


def _check_options(metric: str, mode: str, render: str | None, normalize: str, numbers: dict[str, Any]) -> dict[str, Any]:
    """Refuse unknown names; check every number against ``latentmorph.numbers.RANGES`` (NaN, inf, range)."""
    if metric not in METRICS:
        raise LatentmorphError(f"metric {metric!r}: use one of {', '.join(METRICS)}")
    if mode not in matchers.MODES:
        raise LatentmorphError(f"mode {mode!r}: use one of {', '.join(matchers.MODES)}")
    if render is not None and render not in RENDERERS:
        raise LatentmorphError(f"render {render!r}: use one of {', '.join(RENDERERS)}")
    if normalize not in NORMALIZE:
        raise LatentmorphError(f"normalize {normalize!r}: use one of {', '.join(NORMALIZE)}")
    return check_options(numbers)


def transfer(
    source_wave: np.ndarray,
    source_sr: int,
    index: Any = None,
    corpus: Any = None,
    *,
    codec: str | Codec | None = None,
    metric: str = "cosine",
    mode: str = "viterbi",
    k: int = 8,
    temperature: float = 0.5,
    seed: int | None = None,
    window: int = 1,
    stride: int = 1,
    continuity: float = 2.0,
    avoid_repeat: int = 8,
    keep_source_threshold: float | None = None,
    strength: float = 1.0,
    render: str | None = None,
    follow_loudness: bool = True,
    wet: float = 1.0,
    out_sr: int | None = None,
    normalize: str = "both",
    grain_filter: bool = True,
    return_report: bool = False,
    progress: bool = False,
    chunk_seconds: float | None = None,
    search: str = "auto",
):
    """Make ``source_wave`` take on the character of a corpus (latent granular transfer).

    Args:
        source_wave: ``[samples]`` or ``[channels, samples]`` float audio (stereo stays stereo).
        source_sr: its sample rate (any).
        index: a corpus index (loaded, or a ``.lmindex`` path).
        corpus: instead of ``index``: audio file/folder paths (indexed into the cache) or
            ``[(wave, sr), ...]`` arrays (encoded in memory).
        codec: codec spec or instance; default the index's codec.
        metric: ``"cosine"``, ``"l2"`` or ``"dot"`` (in the matching space).
        mode: ``"nearest"`` (reference), ``"soft"`` (top-k blend), ``"sample"`` (random top-k,
            ``seed``), ``"viterbi"`` (continuity search; default).
        k: candidates per frame from the search.
        temperature: softness of ``soft``/``sample`` weights (in units of the top-k spread).
        seed: random seed for ``sample`` (same seed, same output).
        window, stride: match windows of ``window`` frames, one every ``stride`` frames.
        continuity: ``viterbi`` cost of jumping instead of playing on through the corpus.
        avoid_repeat: ``viterbi``: don't reuse a grain within this many frames (0 = allow).
        keep_source_threshold: keep the source frame where the best match is farther than
            this distance (cosine: 1 - similarity; l2: RMS per dimension). ``None`` = never.
        strength: 0..1 interpolation from the source (0) to the matched grains (1).
        render: ``"grains"`` or ``"decode"``; default per codec (embedded: grains).
        follow_loudness: give the output the source's loudness envelope.
        wet: 0..1 dry/wet mix (latency-aligned).
        out_sr: output rate (default ``source_sr``).
        normalize: matching-space scaling: ``"corpus"`` (per-dimension standardisation by
            corpus statistics), ``"center"`` (also remove the source's mean), ``"both"``
            (source standardised by its own statistics), ``"none"`` (raw latents).
        grain_filter: never pick file-edge grains (encoded from padding; their audio runs off
            the file inside a crossfade) nor near-silent grains (see ``space.audible``).
        return_report: also return a :class:`TransferResult` (for ``report``/``plot``); the
            source is then processed in one piece.
        progress: tqdm bar on stderr (off when stderr is not a terminal).
        chunk_seconds: sources longer than this are transferred in overlapping pieces of
            about this length (bounded memory; default :data:`CHUNK_SECONDS`; 0 = one piece).
            Each piece restarts the continuity search and takes its own source statistics.
        search: candidate search: ``"auto"`` (exact up to
            :data:`latentmorph.transfer.ann_search.EXACT_LIMIT` usable corpus windows, FAISS IVF
            above), ``"exact"``, ``"ivf"`` or ``"hnsw"`` (approximate, need ``latentmorph[ann]``).

    Returns:
        ``(out, sr)``, or ``(out, sr, result)`` with ``return_report``. ``out`` has the
        input's layout (``[samples]`` or ``[channels, samples]``) and length
        ``round(samples * sr / source_sr)``, float32, peak <= 0.989, no NaN.
    """
    checked = _check_options(metric, mode, render, normalize, dict(
        k=k, window=window, stride=stride, wet=wet, strength=strength, temperature=temperature, seed=seed,
        continuity=continuity, avoid_repeat=avoid_repeat, keep_source_threshold=keep_source_threshold, out_sr=out_sr))
    k, window, stride, wet, strength, temperature = (checked[n] for n in ("k", "window", "stride", "wet", "strength", "temperature"))
    seed, continuity, avoid_repeat, keep_source_threshold, out_sr = (
        checked[n] for n in ("seed", "continuity", "avoid_repeat", "keep_source_threshold", "out_sr"))
    choose_search(search, 0)  # a bad value fails before any work
    one_d = np.ndim(source_wave) == 1
    try:
        wave = as_2d(source_wave)
    except ValueError as err:
        raise AudioError(f"source: {err}") from None
    wave = check_wave(wave, source_sr, "source")
    source_sr = int(source_sr)
    out_sr = int(out_sr or source_sr)
    piece = CHUNK_SECONDS if chunk_seconds is None else float(chunk_seconds)
    if not return_report and piece > 0 and wave.shape[-1] > (piece + 2 * CHUNK_OVERLAP_SECONDS) * source_sr:
        corp = open_corpus(index, corpus, codec, progress=progress)
        options = dict(metric=metric, mode=mode, k=k, temperature=temperature, seed=seed, window=window, stride=stride,
                       continuity=continuity, avoid_repeat=avoid_repeat, keep_source_threshold=keep_source_threshold,
                       strength=strength, render=render, follow_loudness=follow_loudness, wet=wet, normalize=normalize,
                       grain_filter=grain_filter)
        out = _transfer_in_pieces(wave, source_sr, out_sr, corp, piece, progress, options)
        return (out[0] if one_d else out), out_sr

    from tqdm import tqdm

    bar = tqdm(total=4, desc="transfer", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)
    clock = {"start": time.perf_counter()}
    corp = open_corpus(index, corpus, codec, progress=progress)
    clock["corpus"] = time.perf_counter()
    if len(corp) == 0:
        raise CorpusError(f"{getattr(corp, 'path', 'corpus')}: the corpus index holds no grains")
    c = corp.codec()
    if render is None:
        render = DEFAULT_RENDER.get(c.name, "decode" if c.can_decode else "grains")
    if render == "decode" and not c.can_decode:
        raise LatentmorphError(f"codec {c.name} cannot decode; use render='grains'")
    hop, csr = int(corp.hop), int(corp.sample_rate)
    bar.set_postfix_str("encode"); bar.update(1)

    src = resample(wave, source_sr, csr)  # [C, S] at the codec rate
    lat = c.encode(src)  # [C, D, T]
    C, D, T = lat.shape
    clock["encode"] = time.perf_counter()

    # ---- matching space and corpus windows -----------------------------------------
    space = MatchSpace.fit(corp.latents, loudness_dims(c), normalize, LOUDNESS_WEIGHT)
    g = corp.grains
    succ = successors(np.asarray(g.file_id), np.asarray(g.channel), np.asarray(g.aug), np.asarray(g.frame))
    feats = onsets.with_change(space.corpus(corp.latents), onsets.predecessors(succ))  # sound: onset-aware
    win, valid = corpus_windows(feats, succ, int(window), skip_edges=grain_filter)
    if grain_filter:
        loud = audible(corp, c, read_audio=render == "grains")
        if (valid & loud).any():
            valid = valid & loud
    if not valid.any():
        raise CorpusError(f"{getattr(corp, 'path', 'corpus')}: every corpus file is shorter than the {window}-frame window")
    next_of = chain(succ, int(stride) + 1)[:, -1]
    norms = np.linalg.norm(win, axis=1) if metric == "cosine" else None
    bar.set_postfix_str("match"); bar.update(1)

    k_search = 1 if mode == "nearest" else int(k)
    ann_folder = getattr(corp, "path", None) if getattr(corp, "path", None) is not None and Path(str(corp.path)).is_dir() else None
    all_choices = []
    for ch in range(C):
        level = to_db(rms_envelope(src[ch], hop))
        level = np.pad(level, (0, max(0, T - level.shape[0])), mode="edge")[:T]
        active = level > level.max() - SOURCE_ACTIVE_DB
        sf = onsets.with_change(space.source(lat[ch].T, active), np.arange(T) - 1)  # sound: onset-aware
        q, starts = source_windows(sf, int(window), int(stride))
        scores, ids = candidates(q, win, k_search, metric, valid, search=search, folder=ann_folder,
                                 generation=getattr(corp, "_generation", None))
        if mode == "nearest":
            pc = matchers.nearest(scores, ids)
        elif mode == "soft":
            pc = matchers.soft(scores, ids, temperature)
        elif mode == "sample":
            pc = matchers.sample(scores, ids, temperature, None if seed is None else int(seed) + ch)
        else:
            repeat_pos = -(-int(avoid_repeat) // int(stride)) if avoid_repeat else 0
            next_valid = np.where((next_of >= 0) & valid[np.maximum(next_of, 0)], next_of, -1)
            pc = matchers.viterbi(scores, ids, next_valid, _score_fn(q, win, metric, norms),
                                  continuity=float(continuity), repeat_positions=repeat_pos)
        dist = score_to_distance(pc.scores, metric, dims=win.shape[1])
        matchers.keep_source(pc, dist, keep_source_threshold)
        frame_ids = expand(pc.ids, starts, T, succ)
        which = np.searchsorted(starts, np.arange(T), side="right") - 1
        amount = 1.0 if render == "grains" else strength  # sound: grains morph after rendering (mix.morph)
        all_choices.append(Choices(frame_ids, pc.weights[which], dist[which], np.full(T, amount, np.float32)))
        share = self_match_share(lat[ch], corp.latents, frame_ids[:, 0])
        if share >= SELF_MATCH_SHARE and ch == 0:
            warnings.warn(
                f"{getattr(corp, 'path', None) or 'corpus'}: {share:.0%} of the output frames are the source's own frames "
                "found in the corpus (the source, or most of it, is in the corpus); the output will largely be the source",
                SourceInCorpusWarning, stacklevel=2)
    bar.set_postfix_str("render"); bar.update(1)
    clock["match"] = time.perf_counter()

    # ---- render ----------------------------------------------------------------------
    if render == "decode":
        wet_sig = render_decode(all_choices, corp.latents, lat, c, succ=succ)  # sound: succ softens jumps
    else:
        wet_sig = render_grains(all_choices, corp, succ, src, hop)
    clock["render"] = time.perf_counter()
    n_c = src.shape[-1]
    wet_sig = fit_length(wet_sig, n_c)
    if follow_loudness:
        wet_sig = _follow_loudness(wet_sig, src, max(1, hop // FOLLOW_DIVISION))
    if render == "grains":  # sound: level-matched morph source -> corpus
        wet_sig = morph(wet_sig, src, strength)
    wet_sig = silence_gate(wet_sig, src, hop)

    n_out = int(round(wave.shape[-1] * out_sr / source_sr))
    wet_out = fit_length(resample(wet_sig, csr, out_sr), n_out)
    dry_out = fit_length(wave if out_sr == source_sr else resample(wave, source_sr, out_sr), n_out)
    mixed = dry_wet(wet_out, dry_out, wet)  # sound: source's BS.1770 loudness, true-peak limited
    out = match_level(mixed, dry_out, out_sr) if follow_loudness else safe_level(mixed)
    bar.update(1); bar.close()
    clock["finish"] = time.perf_counter()
    if one_d:
        out = out[0]
    if not return_report:
        return out, out_sr
    settings = dict(codec=c.name, metric=metric, mode=mode, k=int(k), temperature=float(temperature), seed=seed,
                    window=int(window), stride=int(stride), continuity=float(continuity),
                    avoid_repeat=int(avoid_repeat), keep_source_threshold=keep_source_threshold,
                    strength=float(strength), render=render, follow_loudness=bool(follow_loudness),
                    wet=float(wet), out_sr=out_sr, normalize=normalize, grain_filter=bool(grain_filter))
    result = TransferResult(all_choices, corp, settings, source_sr, out_sr, c.name, hop, csr,
                            extra={"source": wave, "output": out if not one_d else out[None],
                                   "timings": _stage_seconds(clock)})
    return out, out_sr, result


def _transfer_in_pieces(wave: np.ndarray, sr: int, out_sr: int, corp: Any, piece_s: float, progress: bool,
                        options: dict[str, Any]) -> np.ndarray:
    """Transfer ``wave [C, S]`` piece by piece; pieces overlap and meet with sine/cosine crossfades.

    Returns ``[C, round(S * out_sr / sr)]`` float32, peak <= the safe level.
    """
    from tqdm import tqdm

    n = wave.shape[-1]
    count = int(np.ceil(n / (piece_s * sr)))
    step = int(np.ceil(n / count))
    lap = int(round(CHUNK_OVERLAP_SECONDS * sr))
    n_out = int(round(n * out_sr / sr))
    lap_out = int(round(lap * out_sr / sr))
    out = np.zeros((wave.shape[0], n_out), np.float32)
    fade_in = np.sin(0.5 * np.pi * (np.arange(lap_out) + 0.5) / max(lap_out, 1)).astype(np.float32)
    fade_out = np.sqrt(np.maximum(0.0, 1.0 - fade_in**2)).astype(np.float32)
    seed = options.get("seed")
    bar = tqdm(total=count, desc="transfer (pieces)", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)
    with warnings.catch_warnings():
        for i in range(count):
            a, b = max(0, i * step - lap), min(n, (i + 1) * step)
            opts = dict(options, seed=None if seed is None else int(seed) + 7919 * i)
            y, _ = transfer(wave[:, a:b], sr, index=corp, out_sr=out_sr, chunk_seconds=0, **opts)
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


