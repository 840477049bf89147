"""The TorchScript export: nn~ conventions, and the same samples as Streamer in a
process where latentmorph cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.stream import Streamer
from latentmorph.stream.export import export_module
from latentmorph.transfer.corpus import MemoryCorpus

SR = 44100

#: Runs with `python -I` in an empty folder; `latentmorph` is made unimportable first.
CHILD = r"""
import json, sys
sys.modules["latentmorph"] = None  # any import of latentmorph now fails
import numpy as np, torch
try:
    import latentmorph  # noqa: F401
    raise SystemExit("latentmorph was importable")
except ImportError:
    pass
path, src, dst, block = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
m = torch.jit.load(path)
facts = {"methods": m.get_methods(), "attributes": m.get_attributes(), "params": m.forward_params.tolist(),
         "labels": list(m.forward_input_labels), "latency": m.get_latency(), "sr": m.get_sample_rate(),
         "continuity": list(m.get_continuity()), "k": list(m.get_k()),
         "bad_wet": m.set_wet(1.5), "bad_k": m.set_k(0), "wet": list(m.get_wet())}
x = torch.from_numpy(np.load(src))
outs = []
for j, i in enumerate(range(0, x.shape[-1], block)):
    # nn~ runs forward under inference mode; other hosts may not: alternate both
    with (torch.inference_mode() if j % 2 else torch.no_grad()):
        outs.append(m(x[:, :, i:i + block]))
y = torch.cat(outs, dim=-1)
m.reset()
facts["set_wet"] = m.set_wet(0.0)
with torch.inference_mode():
    dry = m(x)
np.save(dst, torch.stack([y, dry]).numpy())
print(json.dumps(facts))
"""


@pytest.fixture(scope="module")
def corpus(data_dir):
    sounds = [load(data_dir / name, sr=SR, mono=True, duration=3.0)[0][0] for name in ("water_ufoai.flac", "wind_ufoai.flac")]
    return MemoryCorpus.from_audio([(s, SR) for s in sounds])


def test_exported_module_runs_without_latentmorph_and_matches_streamer(corpus, data_dir, tmp_path):
    src = 0.5 * load(data_dir / "drums_amen.flac", sr=SR, mono=True, duration=1.5)[0]  # peaks under the limiter
    s = Streamer(corpus, lag=1, continuity=3.0)
    path = tmp_path / "lgr.ts"
    facts = export_module(s, path)
    assert path.stat().st_size == facts["bytes"] > 0 and facts["latency"] == s.latency
    np.save(tmp_path / "in.npy", src[None].astype(np.float32))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run = subprocess.run([sys.executable, "-I", str(script), str(path), str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "512"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["methods"] == ["forward"] and got["params"] == [1, 1, 1, 1]
    assert set(got["attributes"]) >= {"continuity", "wet", "k", "avoid_repeat", "follow_loudness"}
    assert got["latency"] == s.latency and got["sr"] == SR
    assert got["continuity"] == [3.0] and got["k"] == [8]
    assert got["bad_wet"] == 1 and got["bad_k"] == 1 and got["wet"] == [1.0]  # refused, unchanged
    assert got["set_wet"] == 0
    y, dry = np.load(tmp_path / "out.npy")
    want = s.process(src)  # [1, S]
    assert np.abs(want).max() > 0.05
    np.testing.assert_allclose(y[0], want, atol=1e-6, rtol=0)
    # wet 0 set through the nn~ setter: the dry source, latency samples late
    np.testing.assert_allclose(dry[0, 0, s.latency:], src[0, :-s.latency], atol=1e-7)
