"""TransferSettings (defaults, checks, presets), the matcher registry, codec declarations,
and the warning for options the chosen mode ignores."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import warnings

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.errors import LatentmorphError
from latentmorph.transfer import MemoryCorpus, TransferSettings, transfer
from latentmorph.transfer.match import MATCHERS, MatchProblem
from latentmorph.transfer.settings import DEFAULTS, FIELDS, PRESETS, IgnoredOptionWarning, choices


@pytest.fixture(scope="module")
def pair(data_dir):  # noqa: ANN001, ANN201
    src, sr = load(data_dir / "speech_codec2.flac", duration=1.5)
    corpus, csr = load(data_dir / "strings_melody.flac", duration=3.0)
    return src, sr, MemoryCorpus.from_audio([(corpus, csr)])


def test_defaults_are_transfer_keywords_and_every_surface_lists_them() -> None:
    params = inspect.signature(transfer).parameters
    assert set(FIELDS) <= set(params)  # every field is a keyword of transfer()
    assert all(params[n].default is None for n in FIELDS)  # None = "take it from settings"
    from latentmorph.cli.transfer import OPTIONS as CLI
    from latentmorph.ui import options as ui

    assert CLI == FIELDS
    assert set(FIELDS) - {o.name for o in ui.OPTIONS} == {"out_sr"}
    for o in ui.OPTIONS:
        if o.kind == "choice":
            assert set(o.choices) - ({ui.AUTO} if o.name == "render" else set()) == set(choices()[o.name])
        if DEFAULTS[o.name] is not None:
            assert o.default == DEFAULTS[o.name]
    assert set(ui.PRESETS) == set(PRESETS)


@pytest.mark.parametrize("bad, message", [
    (dict(k=0), "k: expected an integer from 1"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(mode="fastest"), "mode 'fastest': use one of nearest, soft, sample, viterbi"),
    (dict(metric="hamming"), "metric 'hamming'"),
    (dict(render="paint"), "render 'paint'"),
    (dict(follow_loudness="yes"), "follow_loudness: expected True or False"),
    (dict(keep_source_threshold=-0.2), "cosine distances are at least 0; negative thresholds are for metric dot"),
    (dict(metric="l2", keep_source_threshold=-1.0), "l2 distances are at least 0"),
])
def test_settings_refuse_bad_values_in_one_line(bad: dict, message: str) -> None:
    with pytest.raises(LatentmorphError, match=message) as err:
        TransferSettings(**bad)
    assert "\n" not in str(err.value)


def test_settings_normalise_numbers_and_replace_rechecks() -> None:
    s = TransferSettings(k=4.0, continuity=3, metric="dot", keep_source_threshold=-0.15)
    assert s.k == 4 and isinstance(s.k, int) and s.continuity == 3.0 and s.keep_source_threshold == -0.15
    with pytest.raises(LatentmorphError, match="stride"):
        s.replace(stride=0)
    with pytest.raises(LatentmorphError, match="unknown transfer option"):
        s.replace(strenght=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.k = 3  # type: ignore[misc]


def test_presets_are_valid_and_overridable() -> None:
    for name in PRESETS:
        s = TransferSettings.preset(name)
        assert s.ignored() == []  # no preset sets an option its mode does not read
    ref = TransferSettings.preset("reference", wet=0.0)
    assert ref.mode == "nearest" and ref.render == "decode" and ref.wet == 0.0 and not ref.follow_loudness
    with pytest.raises(LatentmorphError, match="preset 'loud'"):
        TransferSettings.preset("loud")


def test_registry_entries_share_one_signature() -> None:
    rng = np.random.default_rng(0)
    P, k, N = 6, 3, 20
    ids = rng.integers(0, N, (P, k))
    scores = -np.sort(rng.random((P, k)), axis=1)[:, ::-1].copy()
    scores = np.sort(scores, axis=1)[:, ::-1].copy()
    problem = MatchProblem(scores, ids, np.full(N, -1), lambda p, g: np.full(len(g), -9.0), 0)
    for name, matcher in MATCHERS.items():
        pc = matcher.run(problem, TransferSettings(mode=name, seed=1))
        assert pc.ids.shape[0] == P and np.isin(pc.ids, ids).all()
        assert matcher.candidates(TransferSettings(k=5)) == (5 if matcher.top_k else 1)
    # nearest picks the best candidate at every position
    assert (MATCHERS["nearest"].run(problem, TransferSettings()).ids[:, 0] == ids[:, 0]).all()


def test_option_the_mode_ignores_warns_and_changes_nothing(pair) -> None:  # noqa: ANN001
    src, sr, corpus = pair
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredOptionWarning)
        plain, _ = transfer(src, sr, index=corpus, mode="nearest")
        viterbi, _ = transfer(src, sr, index=corpus, continuity=3.0)  # viterbi reads it: no warning
    with pytest.warns(IgnoredOptionWarning, match=r"continuity=3\.0.*mode 'nearest'.*viterbi"):
        out, _ = transfer(src, sr, index=corpus, mode="nearest", continuity=3.0)
    np.testing.assert_array_equal(out, plain)
    with pytest.warns(IgnoredOptionWarning, match="seed"):
        transfer(src, sr, index=corpus, settings=TransferSettings(seed=4))
    assert not np.array_equal(viterbi, plain)


def test_settings_object_equals_keywords(pair) -> None:  # noqa: ANN001
    src, sr, corpus = pair
    a, _ = transfer(src, sr, index=corpus, mode="sample", seed=2, k=4)
    b, _ = transfer(src, sr, index=corpus, settings=TransferSettings(mode="sample", seed=2, k=4))
    c, _ = transfer(src, sr, index=corpus, settings=TransferSettings(mode="sample", seed=9, k=4), seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)  # a keyword overrides the settings object
    _, _, res = transfer(src, sr, index=corpus, settings=TransferSettings.preset("reference"), return_report=True)
    assert res.settings["render"] == "decode" and res.settings["mode"] == "nearest" and res.output is not None


def test_every_codec_declares_what_transfer_reads() -> None:
    from latentmorph.codecs.base import Codec
    from latentmorph.codecs.dac import DacCodec
    from latentmorph.codecs.embedded import EmbeddedCodec
    from latentmorph.codecs.encodec import EncodecCodec
    from latentmorph.codecs.music2latent import Music2LatentCodec
    from latentmorph.codecs.rave import RaveCodec

    expected = {EmbeddedCodec: ((0,), "grains"), Music2LatentCodec: ((), "decode"), EncodecCodec: ((), "decode"),
                DacCodec: ((), "decode"), RaveCodec: ((), "decode")}
    for cls, (dims, render) in expected.items():
        for name in ("latency_samples", "loudness_dims", "default_render"):  # declared by the codec, not inherited from Codec
            assert next(b for b in cls.__mro__ if name in vars(b)) is not Codec, (cls, name)
        assert cls.loudness_dims == dims and cls.latency_samples == 0
        value = vars(cls).get("default_render", cls.default_render)
        if isinstance(value, property):  # decided per instance (music2latent without a decoder: grains)
            assert value.fget(argparse.Namespace(can_decode=False)) == "grains"
            value = value.fget(argparse.Namespace(can_decode=True))
        assert value == render, cls
    e = EmbeddedCodec()
    lat = e.encode(np.stack([np.sin(np.arange(22050) * 0.05), 0.1 * np.sin(np.arange(22050) * 0.05)]).astype(np.float32))
    level = e.latent_level_db(np.concatenate([lat[0].T, lat[1].T]))
    T = lat.shape[-1]
    # the quieter copy (-20 dB) reads lower in the inner frames
    assert np.median(level[:T][2:-2] - level[T:][2:-2]) > 5


def test_chunked_codec_work_reports_progress_to_a_listener() -> None:
    import torch

    from latentmorph.codecs.chunked import run_chunked
    from latentmorph.progress import Steps, listen

    class Bar:
        n = 0.0

        def update(self, k: float) -> None:
            self.n += k

    bar, parts = Bar(), []
    x = torch.arange(2 * 7 * 4, dtype=torch.float32).reshape(2, 1, 28)
    with listen(parts.append):
        y = run_chunked(lambda t: t, x, in_per_frame=4, out_per_frame=4, frames=7, chunk=2, context=1)
    assert torch.equal(y, x) and len(parts) == 4 and abs(sum(parts) - 1.0) < 1e-9
    steps = Steps(bar, 3)
    with listen(steps):
        run_chunked(lambda t: t, x, in_per_frame=4, out_per_frame=4, frames=7, chunk=2, context=1)
        run_chunked(lambda t: t, x, in_per_frame=4, out_per_frame=4, frames=7, chunk=2, context=1)  # overshoot clamped
    steps.finish()
    assert abs(bar.n - 3.0) < 1e-9
    run_chunked(lambda t: t, x, in_per_frame=4, out_per_frame=4, frames=7, chunk=2, context=1)  # nobody listens
    assert abs(bar.n - 3.0) < 1e-9


def test_a_quiet_transfer_does_not_import_tqdm(tmp_path) -> None:  # noqa: ANN001
    """``progress=False`` (the CLI's --quiet, a pipe) gets a bar that does nothing, and tqdm is
    never imported (~0.1 s of every command's start-up); on a terminal the bar is tqdm's."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from latentmorph.transfer import transfer\n"
        "t = np.arange(44100) / 44100\n"
        "x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)\n"
        "out, sr = transfer(x, 44100, corpus=[(np.roll(x, 1000), 44100)], progress=False)\n"
        "assert out.shape == x.shape\n"
        "print('tqdm' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "False"

    from latentmorph.progress import QuietBar, bar

    quiet = bar(5, "x", enabled=False)
    assert isinstance(quiet, QuietBar)
    quiet.update(2)
    quiet.set_postfix_str("stage")
    quiet.close()
    assert quiet.n == 2 and quiet.total == 5


def test_a_bar_on_a_terminal_is_tqdm(monkeypatch) -> None:  # noqa: ANN001
    import io
    import sys

    from tqdm import tqdm

    from latentmorph.progress import bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    shown = bar(3, "transfer", enabled=True)
    assert isinstance(shown, tqdm)
    shown.update(3)
    shown.close()
    assert "transfer" in sys.stderr.getvalue()
