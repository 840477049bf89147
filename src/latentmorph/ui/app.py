"""The page: Gradio Blocks with the Transfer, Corpus map and Diffusion tabs.

Only layout and wiring live here; the work is done by :class:`~latentmorph.ui.studio.Studio`
(transfers, corpora, grains), :mod:`~latentmorph.ui.corpus_map` (the map) and
:mod:`~latentmorph.ui.diffusion_tab` (the diffusion model). Every callback goes through
:func:`friendly`, so a user mistake shows its one-line message in the page and nothing
else ever shows a traceback.

Named API endpoints (for ``gradio_client`` and scripts): ``/transfer``, ``/index_corpus``,
``/corpus_map``, ``/grain``, ``/refresh``, and with a model ``/generate``, ``/restyle``,
``/timbre_map``.
"""

# no ``from __future__ import annotations``: Gradio reads the gr.SelectData annotations at run time

import functools
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from latentmorph.errors import LatentmorphError
from latentmorph.ui import options as opts
from latentmorph.ui.images import spectrogram_image
from latentmorph.ui.studio import Studio

log = logging.getLogger("latentmorph.ui")

TITLE = "latentmorph studio"

INTRO = """\
### latentmorph studio
Make a sound take on the character of a corpus. **1.** upload or record a source
**2.** pick a corpus index or upload a few corpus files **3.** press **Run transfer**.
Hover an option for what it does; presets set them all at once.
"""


def friendly(fn: Callable) -> Callable:
    """Wrap a callback: user mistakes become a one-line ``gr.Error`` in the page;
    anything else is logged on the server and shown as a short, traceback-free message."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except LatentmorphError as err:
            raise gr.Error(str(err), print_exception=False) from None
        except MemoryError:
            raise gr.Error("out of memory: try a shorter sound or a smaller corpus", print_exception=False) from None
        except Exception as err:  # noqa: BLE001 - the page must never show a traceback
            log.error("callback %s failed:\n%s", fn.__name__, traceback.format_exc())
            raise gr.Error(f"internal error ({type(err).__name__}); the server log has the details",
                           print_exception=False) from None

    return wrapper


def _theme():  # noqa: ANN202
    """The default theme with system fonts only: nothing is fetched from a font service."""
    import gradio as gr

    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def _control(o: opts.Option):  # noqa: ANN202
    import gradio as gr

    label = f"{o.name.replace('_', ' ')}  ({o.label})" if o.label.startswith("-") else o.label
    if o.kind == "choice":
        return gr.Dropdown(list(o.choices), value=o.default, label=label, info=o.help)
    if o.kind == "bool":
        return gr.Checkbox(value=bool(o.default), label=label, info=o.help)
    return gr.Slider(o.lo, o.hi, value=o.default, step=o.step, label=label, info=o.help)


def _summary_line(report: dict, out: np.ndarray, sr: int) -> str:
    ch = report["channels"][0]
    seconds = np.shape(out)[-1] / sr
    return (f"done: {seconds:.2f} s at {sr} Hz; {ch['unique_grains']} distinct grains, "
            f"{100 * ch['kept_fraction']:.0f}% source kept, mean distance {ch['mean_distance']:.3f}")


def _score_table(scores: dict | None) -> str:
    if not scores:
        return ""
    c, st, a = scores.get("content", {}), scores.get("style", {}), scores.get("artefacts", {})

    def num(x: Any) -> str:
        return f"{x:.3f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "–"

    rows = [
        ("content score (1 = keeps the source's loudness, onsets, chroma, pitch)", c.get("score")),
        ("loudness correlation", (c.get("loudness") or {}).get("value")),
        ("onset F-measure", (c.get("onsets") or {}).get("f_measure")),
        ("chroma correlation", (c.get("chroma") or {}).get("value")),
        ("style ratio (0 = at the corpus's timbre, 1 = still the source's)", (st.get("ratio") or {}).get("value")),
        ("source leakage", (st.get("leakage") or {}).get("value")),
        ("clicks per second (corpus's own rate in brackets)", a.get("click_rate")),
    ]
    lines = ["| evaluate score | value |", "|---|---|"] + [f"| {k} | {num(v)} |" for k, v in rows]
    if isinstance(a.get("corpus_click_rate"), (int, float)):
        lines[-1] = lines[-1][:-2] + f" ({a['corpus_click_rate']:.2f}) |"
    return "\n".join(lines)


def build_app(studio: Studio):  # noqa: ANN201, C901 - one layout, read top to bottom
    """The Blocks app for ``studio`` (not launched; see :func:`latentmorph.ui.server.serve`)."""
    import gradio as gr

    from latentmorph.audio import save
    from latentmorph.ui import diffusion_tab

    limits = studio.limits

    def _progress_cb(progress):  # noqa: ANN001, ANN202
        return lambda done, total, name: progress(done / max(1, total), desc=f"indexing {name} ({done}/{total})")

    # ---- callbacks ----------------------------------------------------------------------
    @friendly
    def refresh():  # noqa: ANN202
        idx = studio.index_choices()
        audio = studio.audio_choices()
        first = idx[0][1] if idx else None
        return (gr.update(choices=idx, value=first), gr.update(choices=audio),
                gr.update(choices=idx, value=first))

    @friendly
    def index_corpus(files, progress=gr.Progress()):  # noqa: ANN001, ANN202, B008
        loaded = studio.index_uploads(files or [], _progress_cb(progress))
        m = loaded.corpus_map()
        msg = (f"indexed {len(loaded.index.files)} uploaded file(s): {len(loaded.index)} grains; "
               "it is used by the next transfer")
        return msg, m.image(), m.legend_html(), {"corpus": loaded.key, "path": None}

    @friendly
    def run_transfer(progress=gr.Progress(), *values):  # noqa: ANN001, ANN202, B008
        src_upload, src_pick, corpus_choice, corpus_files = values[:4]
        settings = opts.settings(list(values[4:]))
        progress(0.0, desc="loading the source")
        wave, sr, name = studio.load_source(src_upload, src_pick)
        corpus = studio.corpus(corpus_choice, corpus_files, _progress_cb(progress))
        progress(0.5, desc="transferring")
        res = studio.run_transfer(wave, sr, corpus, settings, source_name=name)
        progress(0.9, desc="drawing")
        job = studio.temp.job_dir()
        stem = Path(name).stem[:40] or "source"
        out_path = save(job / f"{stem}-morph.wav", res.out, res.out_sr)
        rep_path = job / f"{stem}-morph.json"
        rep_path.write_text(json.dumps(res.report, indent=1))
        m = corpus.corpus_map()
        summary = {k: v for k, v in res.report.items() if k not in ("channels",)}
        summary["channels"] = [{k: v for k, v in ch.items() if k != "frames"} for ch in res.report["channels"]]
        state = {"corpus": corpus.key, "path": res.path.tolist()}
        return (str(out_path), [str(out_path), str(rep_path)],
                spectrogram_image(res.source, res.source_sr), spectrogram_image(res.out, res.out_sr),
                _score_table(res.scores), summary, _summary_line(res.report, res.out, res.out_sr),
                m.image(path=res.path), m.legend_html(), state)

    @friendly
    def draw_map(choice, state):  # noqa: ANN001, ANN202
        loaded = studio.corpus(choice, None)
        m = loaded.corpus_map()
        path = None
        if state and state.get("corpus") == loaded.key and state.get("path"):
            path = np.asarray(state["path"], np.int64)
        info = f"{len(loaded.index)} grains from {len(loaded.index.files)} file(s); click a point to hear it"
        if path is not None:
            info += "; the red line is the last output's path (dark = start, bright = end; green dot = first grain)"
        return m.image(path=path), m.legend_html(), info, {"corpus": loaded.key, "path": None if path is None else path.tolist()}

    def _grain_outputs(key: str, grain: int, state: dict | None):  # noqa: ANN202
        audio, sr, where = studio.grain(key, grain)
        loaded = studio.corpus_by_key(key)
        path = np.asarray(state["path"], np.int64) if state and state.get("path") else None
        pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        return (sr, pcm), where, loaded.corpus_map().image(path=path, highlight=grain)

    @friendly
    def play_grain(key, grain):  # noqa: ANN001, ANN202
        if not key:
            raise LatentmorphError("no corpus: draw a map first")
        try:
            g = int(grain)
        except (TypeError, ValueError):
            raise LatentmorphError(f"grain {grain!r}: not a number") from None
        audio, where, _ = _grain_outputs(str(key), g, None)
        return audio, where

    @friendly
    def click_map(state, evt: gr.SelectData):  # noqa: ANN001, ANN202
        if not state or not state.get("corpus"):
            raise LatentmorphError("draw a map first (pick a corpus and press Draw map)")
        x, y = evt.index
        m = studio.corpus_by_key(state["corpus"]).corpus_map()
        return _grain_outputs(state["corpus"], m.nearest(x, y), state)

    @friendly
    def apply_preset(name):  # noqa: ANN001, ANN202
        return opts.preset_values(name)

    # ---- layout -------------------------------------------------------------------------
    with gr.Blocks(title=TITLE, theme=_theme(), analytics_enabled=False,
                   delete_cache=(600, int(studio.temp.max_age))) as demo:
        gr.Markdown(INTRO)
        map_state = gr.State({"corpus": None, "path": None})
        with gr.Tab("Transfer", id="transfer", elem_id="tab-transfer"):
            with gr.Row():
                with gr.Column(scale=1):
                    src_audio = gr.Audio(sources=["upload", "microphone"], type="filepath", elem_id="source-audio",
                                         label=f"source: upload or record (at most {limits.max_seconds:g} s)")
                    src_pick = gr.Dropdown([], value=None, label="…or a source file under the served folders",
                                           allow_custom_value=True)
                with gr.Column(scale=1):
                    corpus_pick = gr.Dropdown([], value=None, label="corpus index (.lmindex under the served folders)",
                                              allow_custom_value=True, elem_id="corpus-pick")
                    corpus_files = gr.File(file_count="multiple", file_types=["audio"], type="filepath",
                                           label=f"…or upload corpus files (up to {limits.max_corpus_files}; they win over the index)")
                    index_btn = gr.Button("Index uploaded files", size="sm")
                    index_status = gr.Markdown()
            with gr.Accordion("options", open=True):
                preset = gr.Dropdown(list(opts.PRESETS), value="default", label="preset",
                                     info="default: continuity search, grains; reference: the plain nearest-neighbour baseline")
                controls = []
                per_row = 4
                for start in range(0, len(opts.OPTIONS), per_row):
                    with gr.Row():
                        for o in opts.OPTIONS[start:start + per_row]:
                            controls.append(_control(o))
            run_btn = gr.Button("Run transfer", variant="primary", elem_id="run-transfer")
            status = gr.Markdown(elem_id="transfer-status")
            with gr.Row():
                out_audio = gr.Audio(type="filepath", label="output", interactive=False, elem_id="output-audio")
                downloads = gr.File(label="download: output audio and report", interactive=False, file_count="multiple")
            with gr.Row():
                src_spec = gr.Image(label="source spectrogram", interactive=False, type="numpy", format="png", show_download_button=False)
                out_spec = gr.Image(label="output spectrogram", interactive=False, type="numpy", format="png", show_download_button=False)
            with gr.Row():
                scores_md = gr.Markdown(label="evaluate scores")
                report_json = gr.JSON(label="report (per-frame details are in the downloaded JSON)")
        with gr.Tab("Corpus map", id="map", elem_id="tab-map"):
            gr.Markdown("Every grain of the corpus (PCA of its latents), coloured by file. After a transfer, "
                        "the red line follows the grains the output used, frame by frame. Click a point to hear that grain.")
            with gr.Row():
                map_pick = gr.Dropdown([], value=None, label="corpus index", allow_custom_value=True, scale=3)
                map_btn = gr.Button("Draw map", scale=1, elem_id="draw-map")
            map_img = gr.Image(label="corpus map (click a point)", interactive=False, elem_id="corpus-map", type="numpy", format="png",
                               show_download_button=False)
            map_legend = gr.HTML(padding=False)
            map_info = gr.Markdown()
            grain_audio = gr.Audio(label="the clicked grain (half a second from its start)", interactive=False,
                                   autoplay=True)
            with gr.Row(visible=False):
                grain_key = gr.Textbox(label="corpus key")
                grain_id = gr.Number(label="grain id", precision=0)
                grain_btn = gr.Button("play grain")
        diffusion_tab.build(studio, friendly)

        # ---- wiring ---------------------------------------------------------------------
        demo.load(refresh, None, [corpus_pick, src_pick, map_pick], api_name="refresh")
        preset.change(apply_preset, preset, controls, api_name=False)
        index_btn.click(index_corpus, corpus_files, [index_status, map_img, map_legend, map_state], api_name="index_corpus")
        run_btn.click(run_transfer, [src_audio, src_pick, corpus_pick, corpus_files, *controls],
                      [out_audio, downloads, src_spec, out_spec, scores_md, report_json, status, map_img, map_legend,
                       map_state], api_name="transfer")
        map_btn.click(draw_map, [map_pick, map_state], [map_img, map_legend, map_info, map_state], api_name="corpus_map")
        map_img.select(click_map, map_state, [grain_audio, map_info, map_img], api_name=False)
        grain_btn.click(play_grain, [grain_key, grain_id], [grain_audio, map_info], api_name="grain")
    return demo


def _log_to_stderr() -> None:
    if not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("latentmorph ui: %(message)s"))
        log.addHandler(h)
        log.setLevel(logging.INFO)


__all__ = ["INTRO", "TITLE", "build_app", "friendly"]
