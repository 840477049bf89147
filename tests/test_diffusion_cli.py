"""The diffusion commands end to end on the tiny preset: train -> generate -> restyle ->
timbre-map through the CLI, MIDI-to-audio, CLAP text, grain rendering, and every bad input
of issue 9 (one line, non-zero exit, no traceback, nothing written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.cli import main
from latentmorph.corpus import build_index
from latentmorph.diffusion.features.midi import Note, write_midi


def run_ok(capsys, argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def run_fails(capsys, argv, expect: str, output: Path | None = None):
    """The command fails with one ``latentmorph: error:`` line containing ``expect``, writes nothing."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # a flag refused at parse time
        code = stop.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("latentmorph: error:"), err
    assert expect in lines[0], lines[0]
    assert "Traceback" not in err
    if output is not None:
        assert not output.exists() and not list(output.parent.glob(f".{output.name}*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory, data_dir):
    """A tiny tempo/timbre/structure model trained through the CLI on the amen loop (40 steps)."""
    w = tmp_path_factory.mktemp("diffusion_cli")
    index = build_index([data_dir / "drums_amen.flac"], w / "amen.lmindex", progress=False).index
    code = main(["train", str(w / "amen.lmindex"), "-o", str(w / "m.lmdiff"), "--steps", "40", "--quiet"])
    assert code == 0
    return {"dir": w, "model": w / "m.lmdiff", "index": index}


def test_train_generate_restyle_timbre_map_round_trip(work, capsys, data_dir):
    w, model = work["dir"], work["model"]
    assert model.exists() and (w / "m.lmdiff.ckpt").exists() and (w / "m.loss.png").read_bytes()[:4] == b"\x89PNG"
    # generate: asked length, finite, same seed -> same file, another seed -> another
    for name, seed in (("g1.wav", 1), ("g1b.wav", 1), ("g2.wav", 2)):
        run_ok(capsys, ["generate", model, "-o", w / name, "--seconds", "1.5", "--bpm", "120", "--steps", "4",
                        "--seed", seed, "--timbre-from", data_dir / "bells.flac", "--quiet"])
    g1, sr = sf.read(w / "g1.wav", dtype="float32")
    assert sr == 44100 and g1.shape[0] == int(1.5 * 44100) and np.isfinite(g1).all() and np.abs(g1).max() > 1e-3
    assert np.array_equal(g1, sf.read(w / "g1b.wav", dtype="float32")[0])
    assert not np.array_equal(g1, sf.read(w / "g2.wav", dtype="float32")[0])
    # restyle an audio source (stereo in -> stereo out, the source's rate and length)
    src, src_sr = sf.read(data_dir / "piano_melody.flac", dtype="float32", always_2d=True)
    stereo = np.concatenate([src, src * 0.5], axis=1)[: src_sr * 2]
    sf.write(w / "stereo.wav", stereo, src_sr)
    out = run_ok(capsys, ["restyle", model, w / "stereo.wav", "-o", w / "r.wav", "--timbre-from", data_dir / "bells.flac",
                          "--guidance-structure", "1.5", "--guidance-timbre", "2", "--steps", "4"])
    r, rsr = sf.read(w / "r.wav", dtype="float32", always_2d=True)
    assert rsr == src_sr and r.shape == stereo.shape and "r.wav: 2.00 s, 2 channel(s)" in out
    # the timbre map: one point per file, and a point of it drives generate --timbre X,Y
    out = run_ok(capsys, ["timbre-map", model, data_dir / "bells.flac", data_dir / "drums_amen.flac", "-o", w / "map.png"])
    rows = [ln for ln in out.splitlines() if "flac" in ln]
    assert len(rows) == 2 and (w / "map.png").read_bytes()[:4] == b"\x89PNG"
    x, y = rows[0].split()[0].split(",")
    run_ok(capsys, ["generate", model, "-o", w / "t.wav", "--seconds", "1", "--steps", "3", f"--timbre={x},{y}", "--quiet"])
    assert sf.info(str(w / "t.wav")).frames == 44100


def test_render_grains_plays_corpus_audio(work, capsys):
    """--render grains: every output hop is a stretch of the corpus file (here: the amen loop)."""
    w = work["dir"]
    run_ok(capsys, ["generate", work["model"], "-o", w / "grains.wav", "--seconds", "1", "--steps", "3",
                    "--render", "grains", "--index", w / "amen.lmindex", "--quiet"])
    out, sr = sf.read(w / "grains.wav", dtype="float32")
    assert sr == 44100 and out.shape[0] == 44100 and np.abs(out).max() > 0.01


def test_midi_to_audio(tmp_path, capsys):
    """A model trained with piano rolls (NAME.mid beside NAME.wav) renders a .mid file."""
    sr, notes = 22050, [Note(pitch=p, start=0.5 * i, end=0.5 * i + 0.4, velocity=100) for i, p in enumerate([60, 64, 67, 72, 67, 64])]
    t = np.arange(int(3.0 * sr)) / sr
    wave = np.zeros_like(t)
    for n in notes:
        on = (t >= n.start) & (t < n.end)
        wave[on] += 0.3 * np.sin(2 * np.pi * 440 * 2 ** ((n.pitch - 69) / 12) * t[on])
    sf.write(tmp_path / "song.wav", wave.astype(np.float32), sr)
    write_midi(tmp_path / "song.mid", notes)
    run_ok(capsys, ["train", tmp_path / "song.wav", "-o", tmp_path / "p.lmdiff", "--conditions", "midi,timbre", "--steps", "15", "--quiet"])
    run_ok(capsys, ["restyle", tmp_path / "p.lmdiff", tmp_path / "song.mid", "-o", tmp_path / "out.wav",
                    "--timbre-from", tmp_path / "song.wav", "--steps", "3", "--quiet"])
    info = sf.info(str(tmp_path / "out.wav"))
    assert abs(info.frames / info.samplerate - notes[-1].end) < 0.05
    # a MIDI file with no notes
    write_midi(tmp_path / "empty.mid", [])
    run_fails(capsys, ["restyle", tmp_path / "p.lmdiff", tmp_path / "empty.mid", "-o", tmp_path / "e.wav",
                       "--timbre-from", tmp_path / "song.wav"], "empty.mid", tmp_path / "e.wav")


def test_clap_text_condition(work, tmp_path, capsys):
    pytest.importorskip("transformers")
    from latentmorph.diffusion.features.clap import save_random_clap

    clap = save_random_clap(tmp_path / "clap")
    run_ok(capsys, ["train", work["dir"] / "amen.lmindex", "-o", tmp_path / "c.lmdiff", "--conditions", "clap",
                    "--clap", clap, "--steps", "5", "--quiet"])
    run_ok(capsys, ["generate", tmp_path / "c.lmdiff", "-o", tmp_path / "c.wav", "--seconds", "1", "--steps", "2",
                    "--text", "a dusty drum break", "--clap", clap, "--quiet"])
    assert sf.info(str(tmp_path / "c.wav")).frames == 44100
    run_fails(capsys, ["generate", tmp_path / "c.lmdiff", "-o", tmp_path / "x.wav", "--text", "drums", "--clap",
                       tmp_path / "no_clap_here"], "no_clap_here", tmp_path / "x.wav")


def test_bad_inputs(work, tmp_path, capsys, data_dir):
    model, w = work["model"], work["dir"]
    out = tmp_path / "out.wav"
    # a corrupt model file
    data = model.read_bytes()
    (tmp_path / "broken.lmdiff").write_bytes(data[: len(data) // 3])
    run_fails(capsys, ["generate", tmp_path / "broken.lmdiff", "-o", out], "broken.lmdiff", out)
    # latents of another codec: an index built with embedded:hop=512 for --render grains
    build_index([data_dir / "drums_amen.flac"], tmp_path / "hop512.lmindex", "embedded:hop=512", progress=False)
    run_fails(capsys, ["generate", model, "-o", out, "--render", "grains", "--index", tmp_path / "hop512.lmindex"],
              "hop512.lmindex: index made with codec", out)
    # ... and training on it into the existing checkpoint of the embedded model
    run_fails(capsys, ["train", tmp_path / "hop512.lmindex", "-o", model, "--steps", "41"], "m.lmdiff.ckpt", None)
    # --timbre-from a silent file
    sf.write(tmp_path / "silent.wav", np.zeros(44100, np.float32), 44100)
    run_fails(capsys, ["generate", model, "-o", out, "--timbre-from", tmp_path / "silent.wav"], "silent.wav: is silent", out)
    run_fails(capsys, ["restyle", model, data_dir / "piano_melody.flac", "-o", out, "--timbre-from", tmp_path / "silent.wav"],
              "silent.wav: is silent", out)
    # a missing CLAP folder (training with the clap condition)
    run_fails(capsys, ["train", w / "amen.lmindex", "-o", tmp_path / "c.lmdiff", "--conditions", "clap", "--clap",
                       tmp_path / "missing_clap"], "missing_clap", tmp_path / "c.lmdiff")
    assert not (tmp_path / "c.lmdiff.ckpt").exists()
    # --steps 0, --seconds <= 0
    run_fails(capsys, ["generate", model, "-o", out, "--steps", "0"], "--steps", out)
    run_fails(capsys, ["restyle", model, data_dir / "piano_melody.flac", "-o", out, "--timbre-from", data_dir / "bells.flac",
                       "--steps", "0"], "--steps", out)
    run_fails(capsys, ["train", w / "amen.lmindex", "-o", tmp_path / "z.lmdiff", "--steps", "0"], "--steps", tmp_path / "z.lmdiff")
    for secs in ("0", "-2"):
        run_fails(capsys, ["generate", model, "-o", out, f"--seconds={secs}"], "--seconds", out)
    # a condition the model lacks, an output that is an input
    run_fails(capsys, ["generate", model, "-o", out, "--text", "drums"], "clap condition", out)
    run_fails(capsys, ["restyle", model, w / "g1.wav" if (w / "g1.wav").exists() else data_dir / "bells.flac",
                       "-o", data_dir / "bells.flac", "--timbre-from", data_dir / "bells.flac"], "is also an input", None)
