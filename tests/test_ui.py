"""The web studio through a real gradio_client against a server on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="the web studio needs gradio: pip install 'latentmorph[ui]'")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from latentmorph import api  # noqa: E402
from latentmorph.ui import options as opts  # noqa: E402
from latentmorph.ui.jobs import Limits  # noqa: E402
from latentmorph.ui.server import start  # noqa: E402

SECRET = b"top secret bytes that must never leave the server"


@pytest.fixture(scope="module")
def served(tmp_path_factory, data_dir):
    """A root with two corpus files, an index of them and a source; an outside folder with a
    secret file, a symlink from the root to it and an index (inside the root) of outside audio."""
    base = tmp_path_factory.mktemp("ui")
    root, outside = base / "root", base / "outside"
    root.mkdir(), outside.mkdir()
    for name in ("water_ufoai.flac", "wind_ufoai.flac", "speech_codec2.flac"):
        shutil.copy(data_dir / name, root / name)
    shutil.copy(data_dir / "bells.flac", outside / "bells.flac")
    (outside / "secret.txt").write_bytes(SECRET)
    (root / "link_to_secret.txt").symlink_to(outside / "secret.txt")
    (root / "link_to_bells.flac").symlink_to(outside / "bells.flac")
    (root / "link_outside").symlink_to(outside, target_is_directory=True)
    api.build_index([root / "water_ufoai.flac", root / "wind_ufoai.flac"], root / "weather.lmindex", progress=False)
    api.build_index([outside / "bells.flac"], root / "escape.lmindex", progress=False)
    # max 7 s: water (8 s) is too long to upload as a source, speech (5 s) and wind (6 s) fit
    running = start([root], port=0, limits=Limits(max_seconds=7.0, max_upload_mb=5.0, concurrency=2), quiet=True)
    client = Client(running.url, verbose=False)
    yield {"root": root, "outside": outside, "url": running.url, "client": client, "running": running}
    temp = running.studio.temp.path
    running.close()
    assert not temp.exists(), "the server's temporary folder must be removed when it stops"
    # and no later server in this process is pointed at it (Gradio would recreate it)
    assert os.environ.get("GRADIO_TEMP_DIR", "") != str(running.studio.temp.uploads)


def _transfer(client, source=None, pick=None, corpus="weather.lmindex", uploads=None, preset="default"):
    return client.predict(source and handle_file(str(source)), pick, corpus,
                          uploads and [handle_file(str(u)) for u in uploads],
                          *opts.preset_values(preset), api_name="/transfer")


def _error(call) -> str:
    with pytest.raises(AppError) as info:
        call()
    msg = str(info.value)
    assert "Traceback" not in msg and 'File "' not in msg
    return msg


def test_transfer_returns_audio_of_the_source_length(served, data_dir):
    src = data_dir / "speech_codec2.flac"
    n_src, sr_src = sf.info(str(src)).frames, sf.info(str(src)).samplerate
    out_path, downloads, src_spec, out_spec, scores, report, status, map_img, legend = _transfer(served["client"], src)
    out, sr = sf.read(out_path, always_2d=True)
    assert sr == sr_src and out.shape[0] == n_src          # same length and rate as the source
    assert np.sqrt(np.mean(out**2)) > 1e-3                  # not silence
    assert {Path(d).suffix for d in downloads} == {".wav", ".json"}
    full = json.loads(Path([d for d in downloads if d.endswith(".json")][0]).read_text())
    frames = full["channels"][0]["frames"]
    assert len(frames) == int(np.ceil(n_src * 44100 / sr_src / 1024)) or abs(len(frames) - n_src * 44100 / sr_src / 1024) < 2
    assert {Path(f).name for f in full["corpus_files"]} == {"water_ufoai.flac", "wind_ufoai.flac"}
    assert report["source"] == "speech_codec2.flac" and "frames" not in report["channels"][0]
    assert "content score" in scores and "style ratio" in scores
    assert status.startswith("done: 5.00 s")
    assert "water_ufoai.flac" in legend and "wind_ufoai.flac" in legend
    for img in (src_spec, out_spec, map_img):
        assert Path(img).stat().st_size > 1000


def test_uploaded_corpus_is_indexed_and_used(served, data_dir):
    out_path, downloads, *_ = _transfer(served["client"], pick="speech_codec2.flac", corpus=None,
                                        uploads=[data_dir / "wind_ufoai.flac"], preset="reference")
    full = json.loads(Path([d for d in downloads if d.endswith(".json")][0]).read_text())
    assert [Path(f).name for f in full["corpus_files"]] == ["00-wind_ufoai.flac"]
    assert full["settings"]["mode"] == "nearest"            # the preset's settings reached the engine
    out, sr = sf.read(out_path)
    assert sr == 16000 and out.shape[0] == 80000


@pytest.mark.parametrize("pick", [
    "../outside/secret.txt",
    "link_outside/../../outside/bells.flac",
    "{outside}/bells.flac",                  # absolute, outside the root
    "link_to_bells.flac",                     # symlink in the root that escapes it
    "link_outside/bells.flac",               # through a symlinked folder
    "/etc/passwd",
])
def test_source_paths_outside_the_roots_are_refused(served, pick):
    pick = pick.format(outside=served["outside"])
    msg = _error(lambda: _transfer(served["client"], pick=pick))
    assert "outside the served folders" in msg or "'..' is not allowed" in msg or "not found under" in msg
    assert SECRET.decode() not in msg


@pytest.mark.parametrize("key", ["../outside", "{outside}", "escape.lmindex", "link_outside", "/etc"])
def test_corpus_and_grain_paths_outside_the_roots_are_refused(served, key):
    key = key.format(outside=served["outside"])
    msg = _error(lambda: served["client"].predict(key, 0, api_name="/grain"))
    assert any(s in msg for s in ("outside the served folders", "not allowed", "not a .lmindex", "not found under"))
    msg = _error(lambda: served["client"].predict(key, api_name="/corpus_map"))
    assert "bells" not in msg or "outside the served folders" in msg


def _raw_call(url: str, endpoint: str, data: list) -> str:
    """POST to Gradio's HTTP API directly (no client-side upload) and return the event stream."""
    req = urllib.request.Request(f"{url.rstrip('/')}/gradio_api/call/{endpoint}", json.dumps({"data": data}).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url.rstrip('/')}/gradio_api/call/{endpoint}/{event}", timeout=120) as r:
        return r.read().decode()


def test_a_crafted_upload_naming_a_server_file_gets_nothing(served):
    """A request that names a file on the server as if it were an upload (gradio_client would
    upload a local file itself, so this goes through the raw HTTP API)."""
    for path in (served["outside"] / "bells.flac", served["root"] / "speech_codec2.flac", Path("/etc/passwd")):
        fake = {"path": str(path), "meta": {"_type": "gradio.FileData"}, "orig_name": "x.flac"}
        stream = _raw_call(served["url"], "transfer", [fake, None, "weather.lmindex", None, *opts.preset_values("default")])
        assert "event: error" in stream and "event: complete" not in stream
        assert "morph.wav" not in stream and "Traceback" not in stream


def test_files_outside_the_roots_are_not_served_over_http(served):
    url = served["url"].rstrip("/")
    targets = [served["outside"] / "secret.txt", served["root"] / "link_to_secret.txt", Path("/etc/passwd"),
               served["root"] / "water_ufoai.flac"]
    for t in targets:
        for prefix in ("/gradio_api/file=", "/file="):
            try:
                with urllib.request.urlopen(url + prefix + urllib.parse.quote(str(t)), timeout=10) as r:
                    body = r.read()
            except urllib.error.HTTPError as err:
                assert err.code in (403, 404, 405)
                continue
            assert SECRET not in body and b"root:" not in body and b"fLaC" not in body[:4]


def test_corpus_map_and_a_clicked_grain(served):
    img, legend, info, = served["client"].predict("weather.lmindex", api_name="/corpus_map")
    assert Path(img).stat().st_size > 1000 and "water_ufoai.flac" in legend
    index = api.load_index(served["root"] / "weather.lmindex")
    assert info.startswith(f"{len(index)} grains from 2 file(s)")
    audio, where = served["client"].predict("weather.lmindex", 40, api_name="/grain")
    x, sr = sf.read(audio)
    assert sr == 44100 and x.shape[0] == 22050
    fid, start = int(index.grains.file_id[40]), int(index.grains.start[40])
    want = index.file_audio(fid)[0, start:start + 22050]
    # the grain's own audio (16-bit WAV; faded at both ends)
    assert np.corrcoef(x[500:-500], want[500:-500])[0, 1] > 0.99
    assert f"at {start / 44100:.2f} s" in where
    assert "the corpus has grains 0.." in _error(lambda: served["client"].predict("weather.lmindex", 10**9, api_name="/grain"))


def test_bad_uploads_get_a_clear_message(served, tmp_path, data_dir):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 50)
    msg = _error(lambda: _transfer(served["client"], fake))
    assert "notes.wav" in msg and "not a readable audio file" in msg
    msg = _error(lambda: _transfer(served["client"], data_dir / "water_ufoai.flac"))
    assert "over the 7 s limit" in msg
    msg = _error(lambda: _transfer(served["client"], pick="speech_codec2.flac", corpus=None, uploads=[fake]))
    assert "corpus file notes.wav" in msg
    msg = _error(lambda: _transfer(served["client"], data_dir / "speech_codec2.flac", corpus="escape.lmindex"))
    assert "outside the served folders" in msg
    msg = _error(lambda: served["client"].predict(None, None, "weather.lmindex", None, *opts.preset_values("default")[:-1],
                                                  2.0, api_name="/transfer"))
    # the slider's own range check (Gradio) or ours (options.settings) answers first
    assert ("--wet" in msg and "outside 0..1" in msg) or "greater than maximum value 1.0" in msg
