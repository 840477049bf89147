"""The Diffusion tab: generate, restyle and a timbre map, over ``latentmorph.diffusion``.

The diffusion package is imported lazily (see DIFFUSION_API in docs/ui.md): where it is
not importable, or no model is given (``--model``) or found under a root, the tab is not
shown and the page says why in one line.
"""

# no ``from __future__ import annotations``: Gradio reads the gr.SelectData annotation at run time

import importlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from latentmorph.errors import LatentmorphError, ModelError
from latentmorph.ui.corpus_map import CorpusMap
from latentmorph.ui.images import spectrogram_image

#: Loaded diffusion models kept in memory.
CACHED_MODELS = 2

#: Audio files (and seconds of each) the timbre map reads from the served folders.
TIMBRE_MAP_FILES = 24
TIMBRE_MAP_SECONDS = 10.0

_NEEDED = ("load_model", "generate", "restyle", "timbre_map")


def diffusion_module():  # noqa: ANN201
    """``latentmorph.diffusion`` if it is importable and has the agreed functions, else ``None``."""
    try:
        mod = importlib.import_module("latentmorph.diffusion")
    except ImportError:
        return None
    return mod if all(hasattr(mod, n) for n in _NEEDED) else None


def unavailable_reason(studio) -> str | None:  # noqa: ANN001
    """Why the tab is hidden, or ``None`` when it is shown."""
    try:
        importlib.import_module("latentmorph.diffusion")
    except ImportError as err:
        return f"Diffusion tab hidden: latentmorph.diffusion is not importable in this install ({err})."
    if diffusion_module() is None:
        return "Diffusion tab hidden: latentmorph.diffusion lacks " + ", ".join(
            n for n in _NEEDED if not hasattr(importlib.import_module("latentmorph.diffusion"), n)) + "."
    if not studio.model_choices():
        return "Diffusion tab hidden: no model; start with --model MODEL.lmdiff or put a .lmdiff under a --root."
    return None


class Models:
    """Loaded models by path (the operator's ``--model`` or a ``.lmdiff`` under the roots)."""

    def __init__(self, studio) -> None:  # noqa: ANN001
        self.studio = studio
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, choice: str | None) -> Path:
        if not choice:
            raise ModelError("no model picked")
        if self.studio.model and choice == self.studio.model:
            return Path(self.studio.model)
        real = self.studio.roots.resolve(choice, kind="any")
        if real.suffix != ".lmdiff":
            raise ModelError(f"{choice}: not a .lmdiff model")
        return real

    def get(self, choice: str | None):  # noqa: ANN201
        path = self.path(choice)
        key = str(path)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = diffusion_module().load_model(path)
        with self._lock:
            self._models[key] = model
            while len(self._models) > CACHED_MODELS:
                self._models.popitem(last=False)
        return model


def parse_point(text: str | None) -> tuple[float, float] | None:
    """``"X, Y"`` -> ``(X, Y)``; empty -> ``None``."""
    if not text or not str(text).strip():
        return None
    try:
        x, y = (float(v) for v in str(text).split(","))
    except ValueError:
        raise LatentmorphError(f"timbre {text!r}: write it as X, Y (or click the timbre map)") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise LatentmorphError(f"timbre {text!r}: not finite")
    return x, y


def build(studio, friendly: Callable) -> None:  # noqa: ANN001, C901
    """Add the Diffusion tab to the Blocks being built (or a one-line note why it is absent)."""
    import gradio as gr

    reason = unavailable_reason(studio)
    if reason:
        gr.Markdown(f"<small>{reason}</small>")
        return
    dm = diffusion_module()
    models = Models(studio)
    limits = studio.limits
    top = max(1.0, min(30.0, limits.max_seconds))

    def timbre_pair(upload, pick, what):  # noqa: ANN001, ANN202
        if not upload and not pick:
            return None
        wave, sr, _ = studio.load_source(upload, pick, what)
        return wave, sr

    @friendly
    def generate(model, seconds, bpm, text, timbre, guidance, steps, seed, timbre_up, timbre_pick):  # noqa: ANN001, ANN202
        if not 0 < float(seconds) <= top:
            raise LatentmorphError(f"seconds: {seconds} is outside 0..{top:g}")
        out, sr = dm.generate(models.get(model), seconds=float(seconds), bpm=float(bpm) if bpm else None,
                              text=text or None, clap=studio.clap if text else None, timbre=parse_point(timbre),
                              timbre_from=timbre_pair(timbre_up, timbre_pick, "timbre file"),
                              guidance=float(guidance), steps=int(steps), seed=int(seed))
        out = np.asarray(out, np.float32)
        return (int(sr), out.T if out.ndim == 2 else out), spectrogram_image(out, int(sr))

    @friendly
    def restyle(model, src_up, src_pick, timbre_up, timbre_pick, timbre, g_struct, g_timbre, steps, seed):  # noqa: ANN001, ANN202
        wave, sr, _ = studio.load_source(src_up, src_pick)
        tf = timbre_pair(timbre_up, timbre_pick, "timbre file")
        point = parse_point(timbre)
        if tf is None and point is None:
            raise LatentmorphError("restyle needs a timbre: a timbre file, or a point of the timbre map")
        out, osr = dm.restyle(models.get(model), wave, sr, timbre_from=tf, timbre=point,
                              guidance_structure=float(g_struct), guidance_timbre=float(g_timbre),
                              steps=int(steps), seed=int(seed))
        out = np.asarray(out, np.float32)
        return (int(osr), out.T if out.ndim == 2 else out), spectrogram_image(out, int(osr))

    @friendly
    def timbre_map(model, files):  # noqa: ANN001, ANN202
        waves, labels = [], []
        if files:
            for f in files[:TIMBRE_MAP_FILES]:
                w, s, name = studio.load_source(f, None, "timbre-map file")
                waves.append((w, s))
                labels.append(name)
        else:
            for name in studio.audio_choices()[:TIMBRE_MAP_FILES]:
                w, s, _ = studio.load_source(None, name, "timbre-map file")
                waves.append((w[:, : int(TIMBRE_MAP_SECONDS * s)], s))
                labels.append(name)
        if len(waves) < 2:
            raise LatentmorphError("the timbre map needs at least two sounds: upload some or serve a folder of audio")
        tm = dm.timbre_map(models.get(model), waves, labels=labels)
        points = np.asarray(tm.points, np.float32)
        m = CorpusMap(points, np.arange(len(points)), list(tm.labels))
        return m.image(), m.legend_html(), {"points": points.tolist(), "labels": list(tm.labels)}

    @friendly
    def click_timbre(state, evt: gr.SelectData):  # noqa: ANN001, ANN202
        if not state or not state.get("points"):
            raise LatentmorphError("draw the timbre map first")
        m = CorpusMap(np.asarray(state["points"], np.float32), np.arange(len(state["points"])), state["labels"])
        x, y = m.to_point(*evt.index)
        return f"{x:.3f}, {y:.3f}", m.image(marker=tuple(evt.index))

    with gr.Tab("Diffusion", id="diffusion"):
        choices = studio.model_choices()
        model = gr.Dropdown(choices, value=choices[0], label="model (.lmdiff)", allow_custom_value=True)
        with gr.Row():
            with gr.Column():
                gr.Markdown("**Timbre map**: each sound's timbre as a point; click anywhere to pick that timbre.")
                tm_files = gr.File(file_count="multiple", file_types=["audio"], type="filepath",
                                   label="sounds for the map (default: audio under the served folders)")
                tm_btn = gr.Button("Draw timbre map", size="sm")
                tm_img = gr.Image(label="timbre map (click to pick)", interactive=False, elem_id="timbre-map",
                                  type="numpy", format="png",
                                  show_download_button=False)
                tm_legend = gr.HTML(padding=False)
                tm_state = gr.State({})
            with gr.Column():
                timbre = gr.Textbox(label="timbre point X, Y", elem_id="timbre-point", info="filled by a click on the timbre map; empty = none")
                timbre_up = gr.Audio(sources=["upload"], type="filepath", label="…or take the timbre from a sound")
                timbre_pick = gr.Dropdown([], value=None, label="…or a sound under the served folders", allow_custom_value=True)
        with gr.Tab("Generate"):
            with gr.Row():
                seconds = gr.Slider(1, top, value=min(8.0, top), step=0.5, label="seconds")
                bpm = gr.Slider(0, 200, value=0, step=1, label="tempo (BPM)", info="0 = let the model choose")
                text = gr.Textbox(label="text", info="a description (a model trained with CLAP, and --clap DIR)")
            with gr.Row():
                guidance = gr.Slider(0, 10, value=3.0, step=0.1, label="guidance", info="how strongly the conditions steer")
                steps = gr.Slider(1, 100, value=20, step=1, label="steps", info="sampling steps: more = slower, cleaner")
                seed = gr.Number(value=1, precision=0, label="seed")
            gen_btn = gr.Button("Generate", variant="primary")
            with gr.Row():
                gen_audio = gr.Audio(label="generated", interactive=False)
                gen_spec = gr.Image(label="spectrogram", interactive=False, type="numpy", format="png", show_download_button=False)
        with gr.Tab("Restyle"):
            with gr.Row():
                rs_src = gr.Audio(sources=["upload", "microphone"], type="filepath", label="source (its structure is kept)")
                rs_pick = gr.Dropdown([], value=None, label="…or a source under the served folders", allow_custom_value=True)
            with gr.Row():
                g_struct = gr.Slider(0, 10, value=1.0, step=0.1, label="structure guidance", info="how closely the source's structure is followed")
                g_timbre = gr.Slider(0, 10, value=3.0, step=0.1, label="timbre guidance", info="how strongly the picked timbre is imposed")
                rs_steps = gr.Slider(1, 100, value=20, step=1, label="steps")
                rs_seed = gr.Number(value=1, precision=0, label="seed")
            rs_btn = gr.Button("Restyle", variant="primary")
            with gr.Row():
                rs_audio = gr.Audio(label="restyled", interactive=False)
                rs_spec = gr.Image(label="spectrogram", interactive=False, type="numpy", format="png", show_download_button=False)

        def refresh_audio():  # noqa: ANN202
            a = studio.audio_choices()
            return gr.update(choices=a), gr.update(choices=a)

        gr.on([tm_btn.click], timbre_map, [model, tm_files], [tm_img, tm_legend, tm_state], api_name="timbre_map")
        tm_img.select(click_timbre, tm_state, [timbre, tm_img], api_name=False)
        gen_btn.click(generate, [model, seconds, bpm, text, timbre, guidance, steps, seed, timbre_up, timbre_pick],
                      [gen_audio, gen_spec], api_name="generate")
        rs_btn.click(restyle, [model, rs_src, rs_pick, timbre_up, timbre_pick, timbre, g_struct, g_timbre, rs_steps, rs_seed],
                     [rs_audio, rs_spec], api_name="restyle")
        timbre_pick.focus(refresh_audio, None, [timbre_pick, rs_pick], api_name=False)


__all__ = ["build", "diffusion_module", "parse_point", "unavailable_reason"]
