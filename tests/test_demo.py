"""The README's demo command works on bundled audio alone and writes audible files."""

from __future__ import annotations

import numpy as np

from latentmorph import audio
from latentmorph.cli import main


def test_demo_writes_audible_outputs_and_prints_metrics(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo"), "--quiet"]) == 0
    out = capsys.readouterr().out
    names = ["1_source_guitar.wav", "2_corpus_choir.wav", "3_guitar_as_choir.wav",
             "4_guitar_as_choir_reference.wav", "5_guitar_codec_roundtrip.wav",
             "6_generated_choir_timbre.wav", "7_guitar_restyled_as_choir.wav"]
    source, sr = audio.load(tmp_path / "demo" / names[0])
    for name in names:
        wave, file_sr = audio.load(tmp_path / "demo" / name)
        assert file_sr == 44100 and np.isfinite(wave).all()
        assert 0.01 < np.abs(wave).max() <= 1.0, name
    result, _ = audio.load(tmp_path / "demo" / names[2])
    assert result.shape == source.shape
    restyled, _ = audio.load(tmp_path / "demo" / names[6])  # the demo diffusion model keeps the guitar's length
    assert restyled.shape == source.shape
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("default", "reference"))}
    # the default keeps the guitar's dynamics and moves its timbre toward the choir
    loudness, _content, style, _clicks = (float(v) for v in rows["default"])
    assert loudness > 0.9 and style < 0.5
