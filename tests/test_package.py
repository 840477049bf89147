"""The package surface: lazy top-level API, plain ``lm.transfer``/``lm.evaluate`` functions,
and the commands that never load torch (``--help``, ``info``, ``index`` and ``transfer`` with
the embedded codec and an exact search over a small corpus)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import soundfile as sf


def test_import_and_help_do_not_load_torch():
    code = (
        "import sys, latentmorph, latentmorph.cli as c\n"
        "parser = c.build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(latentmorph.__version__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0.1.0"


def test_top_level_names_resolve_to_the_api():
    import latentmorph as lm
    from latentmorph import api

    assert lm.encode is api.encode and lm.build_index is api.build_index
    assert set(api.__all__) <= set(dir(lm))
    # lm.transfer / lm.evaluate are the functions themselves, with their own signature and doc
    assert lm.transfer is api.transfer and lm.evaluate is api.evaluate
    assert inspect.isfunction(lm.transfer) and inspect.isfunction(lm.evaluate)
    params = list(inspect.signature(lm.transfer).parameters)
    assert params[:2] == ["source_wave", "source_sr"] and "corpus" in params
    assert list(inspect.signature(lm.evaluate).parameters)[:2] == ["out", "out_sr"]
    assert "corpus" in lm.transfer.__doc__ and lm.transfer.__doc__ != sys.modules["latentmorph.transfer"].__doc__
    # ... while the packages of the same name stay importable, and importing a module of them
    # later does not turn the name back into the package
    from latentmorph.transfer import match, windows  # noqa: F401

    assert inspect.isfunction(lm.transfer) and match.__name__ == "latentmorph.transfer.match"
    import numpy as np

    x = np.sin(np.linspace(0, 2000, 22050)).astype(np.float32) * 0.3
    assert lm.evaluate(x, 22050, x, 22050)["content"]["loudness"]["value"] > 0.99
    from latentmorph.evaluate import features

    assert features.__name__ == "latentmorph.evaluate.features"
    try:
        lm.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("unknown names must raise AttributeError")


_NO_TORCH = """
import sys
sys.argv = ["latentmorph", *sys.argv[1:]]
from latentmorph.cli import main
rc = main(sys.argv[1:])
assert rc == 0, rc
assert "torch" not in sys.modules, "torch imported"
heavy = [m for m in ("scipy.signal", "scipy.stats", "scipy.ndimage") if m in sys.modules]
assert not heavy, f"imported {heavy} (~1 s of start-up together)"
print("no torch")
"""


def _run_without_torch(*args: str, env_dir: Path) -> None:
    env = {"LATENTMORPH_CACHE_DIR": str(env_dir / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(env_dir)}
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("no torch"), (args, proc.stdout[-500:], proc.stderr[-2000:])


def test_embedded_index_info_and_transfer_never_import_torch(tmp_path, data_dir):
    """The everyday commands with the embedded codec: index, unchanged re-index, info, transfer."""
    (tmp_path / "corpus").mkdir()
    for name in ("water_ufoai.flac", "bells.flac"):
        wave, sr = sf.read(data_dir / name, frames=44100 * 2)
        sf.write(tmp_path / "corpus" / name.replace(".flac", ".wav"), wave, sr)
    src, sr = sf.read(data_dir / "speech_codec2.flac", frames=16000)
    sf.write(tmp_path / "voice.wav", src, sr)
    index = str(tmp_path / "c.lmindex")
    _run_without_torch("index", str(tmp_path / "corpus"), "-o", index, "--quiet", env_dir=tmp_path)
    _run_without_torch("index", str(tmp_path / "corpus"), "-o", index, "--quiet", env_dir=tmp_path)  # unchanged
    _run_without_torch("info", index, env_dir=tmp_path)
    _run_without_torch("transfer", str(tmp_path / "voice.wav"), "--index", index, "-o", str(tmp_path / "out.wav"),
                       "--quiet", env_dir=tmp_path)
    _run_without_torch("transfer", str(tmp_path / "voice.wav"), "--corpus", str(tmp_path / "corpus"), "-o",
                       str(tmp_path / "out2.wav"), "--quiet", env_dir=tmp_path)
    assert sf.info(str(tmp_path / "out.wav")).frames == 16000 and sf.info(str(tmp_path / "out2.wav")).frames == 16000
