"""One call that runs every metric, and a plain-text table of the result."""

from __future__ import annotations

import math
from typing import Any, Sequence, Union

import numpy as np

from latentmorph.audio.length import fit_length
from latentmorph.audio.resample import resample
from latentmorph.errors import AudioError
from latentmorph.evaluate import artefacts, content, sanity, style
from latentmorph.evaluate.features import mono

#: Highest rate the metrics work at; inputs are resampled to min(this, every input's rate)
#: so that all signals are compared within the band they share.
ANALYSIS_SR = 22050

CorpusArg = Union[Sequence[tuple[np.ndarray, int]], Sequence[np.ndarray], tuple[np.ndarray, int], np.ndarray, None]


def _corpus_list(corpus: CorpusArg, corpus_sr: int | None, default_sr: int) -> list[tuple[np.ndarray, int]]:
    if corpus is None:
        return []
    if isinstance(corpus, tuple) and len(corpus) == 2 and np.isscalar(corpus[1]):
        return [(np.asarray(corpus[0]), int(corpus[1]))]  # type: ignore[arg-type]  # np.isscalar: a number
    if isinstance(corpus, np.ndarray):
        return [(corpus, int(corpus_sr or default_sr))]
    items = []
    for item in corpus:
        if isinstance(item, tuple):
            wave, sr = item
            items.append((np.asarray(wave), int(sr)))
        else:
            items.append((np.asarray(item), int(corpus_sr or default_sr)))
    return items


def _prepared(wave: np.ndarray, sr: int, rate: int, name: str) -> np.ndarray:
    x = mono(wave)
    if x.size == 0:
        raise AudioError(f"{name}: contains no audio (zero samples)")
    x = np.where(np.isfinite(x), x, 0.0)
    return resample(x.astype(np.float32), int(sr), rate).astype(np.float64)


def evaluate(
    out: np.ndarray,
    out_sr: int,
    source: np.ndarray,
    source_sr: int,
    corpus: CorpusArg = None,
    *,
    corpus_sr: int | None = None,
    boundaries: np.ndarray | None = None,
    progress: bool = False,
) -> dict:
    """Score a transfer output against its source and corpus.

    Args:
        out: the output, ``[channels, samples]`` or ``[samples]`` at ``out_sr``.
        source: the source it was made from, at ``source_sr``.
        corpus: ``[(wave, sr), ...]``, a list of waves at ``corpus_sr`` (default ``out_sr``),
            or one ``(wave, sr)``; ``None`` skips style and the corpus-relative artefact rates.
        boundaries: grain-boundary positions in ``out``, in samples at ``out_sr`` (optional).
        progress: a tqdm bar on stderr, one step per metric (off when stderr is not a terminal).

    Returns:
        A JSON-ready dict with sections ``content`` (``loudness``, ``onsets``, ``chroma``,
        ``pitch``, ``score``), ``style`` (``ratio``, ``fd_ratio``, ``leakage``), ``artefacts`` and
        ``sanity``, plus ``analysis_sr``. Multi-channel audio is mixed to mono; NaN/Inf
        samples are reported by ``sanity`` and read as 0 by the other metrics. Content is
        compared over the source's whole length: an output shorter than the source is
        padded with silence (so a truncated output loses content), a longer one is cut.
    """
    if int(out_sr) <= 0 or int(source_sr) <= 0:
        raise AudioError(f"invalid sample rate (out {out_sr}, source {source_sr})")
    items = _corpus_list(corpus, corpus_sr, out_sr)
    rate = min([ANALYSIS_SR, int(out_sr), int(source_sr)] + [sr for _, sr in items])
    o = _prepared(out, out_sr, rate, "output")
    s = _prepared(source, source_sr, rate, "source")
    cs = [_prepared(w, sr, rate, f"corpus item {i}") for i, (w, sr) in enumerate(items)]

    # Content is judged over the whole source: a missing tail counts as silence, an extra tail is ignored
    # (``sanity`` reports the length mismatch).
    o_full = o
    o = fit_length(o, s.size)
    result: dict = {"analysis_sr": rate}
    with _Steps(progress, 7 if cs else 6) as step:
        c: dict[str, Any] = {}
        for name, fn in (("loudness", content.loudness_correlation), ("onsets", content.onset_agreement),
                         ("chroma", content.chroma_correlation), ("pitch", content.pitch_agreement)):
            step(name)
            c[name] = fn(o, s, rate)
        c["score"] = content.content_score(c)
        result["content"] = c
        step("leakage")
        st: dict = {"leakage": style.source_leakage(o, s, rate)}
        if cs:
            step("style")
            st["ratio"], st["fd_ratio"] = style.style_measures(o_full, s, cs, rate)
        result["style"] = st
        del o, s, o_full, cs  # the analysis-rate copies are done with: free them before the native-rate pass
        step("artefacts")
        # clicks live at the sample level: measure them at the output's own rate
        # float32 here: at the native rate these are the largest arrays (1.3 GB per hour each in float64)
        o_native = mono(out, np.float32)
        o_native[~np.isfinite(o_native)] = 0.0
        cs_native = [resample(mono(w, np.float32), sr, int(out_sr)) for w, sr in items]
        s_native = resample(mono(source, np.float32), int(source_sr), int(out_sr))
        result["artefacts"] = artefacts.artefact_report(o_native, int(out_sr), cs_native, source=s_native,
                                                        boundaries=boundaries)
    result["sanity"] = sanity.sanity(out, out_sr, source, source_sr)
    return result


class _Steps:
    """A tqdm bar with one step per metric; ``step(name)`` finishes the previous step and names the next."""

    def __init__(self, enabled: bool, total: int) -> None:
        from latentmorph.progress import bar

        self._bar = bar(total, "evaluate", enabled)
        self._started = False

    def __enter__(self) -> "_Steps":
        return self

    def __call__(self, name: str) -> None:
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(name)

    def __exit__(self, *exc: object) -> None:
        if self._started and exc[0] is None:
            self._bar.update(1)
        self._bar.close()


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def format_report(result: dict) -> str:
    """A human-readable table of :func:`evaluate`'s result (one metric per line)."""
    c, st, a, sa = result["content"], result["style"], result["artefacts"], result["sanity"]
    rows = [
        ("content", "loudness envelope correlation", c["loudness"]["value"], "[-1, 1], 1 = kept"),
        ("content", "onset agreement (chance-corrected)", c["onsets"]["value"], "<= 1, 0 = chance"),
        ("content", "chroma movement correlation", c["chroma"]["value"], "[-1, 1], 1 = kept"),
        ("content", "pitch agreement (chance-corrected)", c["pitch"]["value"], "<= 1, n/a = not monophonic"),
        ("content", "content score", c["score"], "[0, 1]"),
    ]
    if "ratio" in st:
        rows.append(("style", "style ratio", st["ratio"]["value"], "0 = at corpus, 1 = at source"))
        rows.append(("style", "timbre distance ratio (FD out / source)", st["fd_ratio"]["value"], "0 = corpus timbre, 1 = unchanged"))
    rows.append(("style", "source leakage", st["leakage"]["value"], "[0, 1], 0 = no waveform copy"))
    rows.append(("artefacts", "clicks per second (all)", a["click_rate"], ""))
    rows.append(("artefacts", "clicks not in the source, per s", a["extra_click_rate"], ""))
    if "corpus_click_rate" in a:
        rows.append(("artefacts", "corpus clicks per second", a["corpus_click_rate"], ""))
        rows.append(("artefacts", "click ratio (out / corpus)", a["click_ratio"], "<= 1 = no worse than corpus"))
    rows.append(("artefacts", "flux spikes per second (all)", a["flux_spike_rate"], ""))
    rows.append(("artefacts", "flux spikes not in the source, per s", a["extra_flux_spike_rate"], ""))
    if "flux_spike_ratio" in a:
        rows.append(("artefacts", "flux spike ratio (out / corpus)", a["flux_spike_ratio"], "<= 1 = no worse than corpus"))
    if "boundary_click_fraction" in a:
        rows.append(("artefacts", "boundaries with a click", a["boundary_click_fraction"], "[0, 1]"))
    rows += [
        ("sanity", "NaN / Inf samples", f"{sa['nan']} / {sa['inf']}", ""),
        ("sanity", "clipped samples", f"{100 * sa['clip_fraction']:.3f}%", ""),
        ("sanity", "DC offset", sa["dc_offset"], ""),
        ("sanity", "peak / RMS level", f"{sa['peak_db']:.1f} / {sa['rms_db']:.1f} dBFS", ""),
        ("sanity", "length", f"{sa['length_s']:.2f} s" + (f" (source {sa['source_length_s']:.2f} s)" if "source_length_s" in sa else ""), ""),
    ]
    width = max(len(r[1]) for r in rows)
    lines = [f"{sec:<10} {name:<{width}}  {_fmt(val):>10}  {note}".rstrip() for sec, name, val, note in rows]
    verdict = "ok" if sa["ok"] else "PROBLEMS: " + "; ".join(sa["problems"])
    lines.append(f"{'sanity':<10} {'verdict':<{width}}  {verdict}")
    return "\n".join(lines)
