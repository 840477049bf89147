"""The web studio's parts without a server: roots, limits, temp files, options, map, offline page."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from latentmorph.errors import AudioError, LatentmorphError
from latentmorph.ui import options as opts
from latentmorph.ui.corpus_map import CorpusMap, pca_2d
from latentmorph.ui.jobs import MARKER, Limits, TempSpace, check_upload
from latentmorph.ui.roots import RootError, Roots


@pytest.fixture
def tree(tmp_path, data_dir):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(data_dir / "bells.flac", root / "sub" / "bells.flac")
    shutil.copy(data_dir / "wind_ufoai.flac", outside / "wind.flac")
    (root / "inner.flac").symlink_to(root / "sub" / "bells.flac")          # stays inside: allowed
    (root / "escape.flac").symlink_to(outside / "wind.flac")               # leaves the root: refused
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "corp.lmindex").mkdir()
    (outside / "far.lmindex").mkdir()
    return root, outside


def test_roots_resolve_only_inside(tree):
    root, outside = tree
    r = Roots.of([root])
    assert r.resolve("sub/bells.flac") == (root / "sub" / "bells.flac").resolve()
    assert r.resolve(str(root / "sub" / "bells.flac")) == (root / "sub" / "bells.flac").resolve()
    assert r.resolve("inner.flac") == (root / "sub" / "bells.flac").resolve()
    for bad, why in [("../outside/wind.flac", "'..'"), ("sub/../../outside/wind.flac", "'..'"),
                     (str(outside / "wind.flac"), "outside"), ("escape.flac", "outside"),
                     ("outdir/wind.flac", "outside"), ("/etc/passwd", "outside"), ("nope.flac", "not found"),
                     ("", "empty"), ("a\x00b", "invalid"), ("sub", "not a file")]:
        with pytest.raises(RootError, match=why):
            r.resolve(bad)
    assert r.resolve("corp.lmindex", kind="dir").name == "corp.lmindex"


def test_roots_listing_skips_escaping_links(tree):
    root, _ = tree
    r = Roots.of([root])
    names = [r.display(p) for p in r.audio_files()]
    assert names == ["sub/bells.flac"]          # the inner link is the same file; wind.flac (outside) never listed
    assert [p.name for p in r.indexes()] == ["corp.lmindex"]
    with pytest.raises(RootError, match="existing folder"):
        Roots.of([root / "missing"])


def test_check_upload_limits(tmp_path, data_dir):
    wind = data_dir / "wind_ufoai.flac"      # 6 s
    assert check_upload(wind, Limits(max_seconds=10))[0] == 44100
    with pytest.raises(AudioError, match="over the 5 s limit"):
        check_upload(wind, Limits(max_seconds=5))
    with pytest.raises(AudioError, match="MiB upload limit"):
        check_upload(wind, Limits(max_upload_mb=0.01))
    junk = tmp_path / "x.wav"
    junk.write_bytes(b"RIFF nothing")
    with pytest.raises(AudioError, match="x.wav: not a readable audio file"):
        check_upload(junk, Limits())
    with pytest.raises(AudioError):
        Limits(max_seconds=0)


def test_temp_space_sweeps_old_jobs_and_removes_itself(tmp_path):
    t = TempSpace(tmp_path)
    old, new = t.job_dir(), t.job_dir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert t.sweep() == 1 and not old.exists() and new.exists()
    t.close()
    assert not t.path.exists()
    # a folder without our marker is never removed
    t2 = TempSpace(tmp_path)
    (t2.path / MARKER).unlink()
    t2.close()
    assert t2.path.exists()


def test_options_presets_and_checks():
    from latentmorph.transfer import PRESETS

    ref = opts.settings(opts.preset_values("reference"))
    for k, v in PRESETS["reference"].items():
        assert ref[k] == v
    default = opts.settings(opts.preset_values("default"))
    assert default["render"] is None and default["keep_source_threshold"] is None and default["mode"] == "viterbi"
    names = [o.name for o in opts.OPTIONS]
    # every transfer() option the CLI offers, except the output rate (the page keeps the source's)
    from latentmorph.cli.transfer import OPTIONS as CLI

    assert set(CLI) - set(names) == {"out_sr"}
    bad = opts.preset_values("default")
    bad[names.index("k")] = 1000
    with pytest.raises(LatentmorphError, match="-k: 1000 is outside 1..64"):
        opts.settings(bad)
    bad = opts.preset_values("default")
    bad[names.index("mode")] = "rm -rf"
    with pytest.raises(LatentmorphError, match="--mode"):
        opts.settings(bad)


def test_pca_recovers_the_main_axis():
    rng = np.random.default_rng(0)
    t = np.linspace(-1, 1, 200)
    direction = rng.normal(size=16)
    x = t[:, None] * direction[None] * 5 + rng.normal(scale=0.01, size=(200, 16))
    p = pca_2d(x)
    assert abs(np.corrcoef(p[:, 0], t)[0, 1]) > 0.999
    assert p[:, 0].std() > 20 * p[:, 1].std()


def test_map_click_finds_the_drawn_grain_and_draws_the_path():
    pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
    m = CorpusMap(pts, np.array([0, 0, 1, 1]), ["a", "b"])
    for i in range(4):
        x, y = m.pixels[i]
        assert m.nearest(x + 2, y - 1) == i
        assert np.allclose(m.to_point(x, y), pts[i], atol=0.01)
    plain = m.image()
    with_path = m.image(path=np.array([0, 1, -1, 3]))
    assert plain.shape == (480, 640, 3) and (plain != with_path).any()
    # the path's line runs between grains 0 and 1 (bottom row, drawn in red), not between 1 and 3 (a kept-source gap)
    (x0, y0), (x1, _), (x3, y3) = m.pixels[0], m.pixels[1], m.pixels[3]
    mid = with_path[y0, (x0 + x1) // 2]
    assert int(mid[0]) > int(mid[1]) + 40 and mid[1] == mid[2]       # red blended onto the pale background
    assert (with_path[(y0 + y3) // 2, x3] == plain[(y0 + y3) // 2, x3]).all()
    assert "rgb(31,119,180)" in m.legend_html() and "&lt;" in CorpusMap(pts, np.zeros(4, int), ["<b>"]).legend_html()


def test_offline_page_has_no_remote_tags():
    gradio = pytest.importorskip("gradio")
    from latentmorph.ui.offline import PAGE, remote_references, strip_remote, use_offline_page

    page = (Path(gradio.__file__).parent / "templates" / PAGE).read_text()
    use_offline_page()
    from gradio import routes

    rendered = routes.templates.env.get_template(PAGE).render(config={}, gradio_api_info={})
    assert remote_references(rendered) == [] and remote_references(strip_remote(page)) == []
    assert "window.gradio_config" in rendered


def test_diffusion_tab_states_why_it_is_hidden():
    from latentmorph.ui.diffusion_tab import diffusion_module, parse_point, unavailable_reason
    from latentmorph.ui.studio import Studio

    studio = Studio(Roots.of([Path(__file__).parent / "data"]))
    try:
        reason = unavailable_reason(studio)
        if diffusion_module() is None:
            assert reason.startswith("Diffusion tab hidden: latentmorph.diffusion")
        else:
            assert reason == "Diffusion tab hidden: no model; start with --model MODEL.lmdiff or put a .lmdiff under a --root."
    finally:
        studio.close()
    assert parse_point(" 0.5, -1 ") == (0.5, -1.0) and parse_point("") is None
    with pytest.raises(LatentmorphError, match="X, Y"):
        parse_point("left")


def test_cli_help_teaches_and_missing_gradio_hint(capsys, monkeypatch, tmp_path):
    import sys

    from latentmorph.cli import main

    with pytest.raises(SystemExit):
        main(["ui", "--help"])
    out = capsys.readouterr().out
    assert "--root DIR" in out and "--max-seconds S" in out and "latentmorph ui --root ~/sounds" in out
    monkeypatch.setitem(sys.modules, "gradio", None)          # as if gradio were not installed
    assert main(["ui", "--root", str(tmp_path), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "latentmorph: error: the web studio needs gradio: pip install 'latentmorph[ui]'"


def test_stale_temp_folders_of_dead_servers_are_removed(tmp_path):
    import subprocess
    import sys

    from latentmorph.ui.jobs import remove_stale

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    t = TempSpace(tmp_path)
    live = TempSpace(tmp_path)
    (t.path / MARKER).write_text(f"pid {int(dead.stdout)}\nleft by a killed server\n")
    (live.path / MARKER).write_text(f"pid {os.getppid()}\nstill running\n")
    other = tmp_path / "latentmorph-ui-notours"
    other.mkdir()
    assert remove_stale(tmp_path) == 1
    assert not t.path.exists() and live.path.exists() and other.exists()
    live.close()


def test_the_command_serves_and_cleans_up_on_sigterm(tmp_path, data_dir):
    pytest.importorskip("gradio")
    import signal
    import subprocess
    import sys
    import urllib.request

    from latentmorph.ui.server import free_port

    root, tmp = tmp_path / "root", tmp_path / "tmp"
    root.mkdir(), tmp.mkdir()
    port = free_port()
    env = dict(os.environ, TMPDIR=str(tmp))
    log = open(tmp_path / "server.log", "w+")  # a file, not a pipe: a full pipe would block the server's writes
    proc = subprocess.Popen([sys.executable, "-m", "latentmorph", "ui", "--root", str(root), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        page = None
        while time.time() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    page = r.read().decode()
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        assert page and "latentmorph studio" in page and "cdnjs" not in page
        assert len(list(tmp.glob("latentmorph-ui-*"))) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, 130)       # 130: the signal came before serving began
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert list(tmp.glob("latentmorph-ui-*")) == []
