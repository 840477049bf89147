"""Streaming: block processing equals the whole-file causal reference; edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.errors import LatentmorphError
from latentmorph.stream import Streamer, transfer_causal
from latentmorph.transfer.corpus import MemoryCorpus
from latentmorph.transfer.render.low_band import DC_HZ, high_pass

SR = 44100
#: Streaming vs the offline-causal reference: both float32; the encoders sum in a
#: different order (1e-6 relative), the grain choices are identical.
ATOL = 1e-5


@pytest.fixture(scope="module")
def corpus(data_dir):
    sounds = [load(data_dir / name, sr=SR, mono=True, duration=4.0)[0][0] for name in ("strings_melody.flac", "bells.flac")]
    return MemoryCorpus.from_audio([(s, SR) for s in sounds], names=["strings", "bells"])


@pytest.fixture(scope="module")
def source(data_dir):
    return load(data_dir / "speech_codec2.flac", sr=SR, mono=True, duration=1.5)[0][0]


def stream_blocks(streamer: Streamer, x: np.ndarray, sizes) -> np.ndarray:
    """Feed ``x [C, S]`` in blocks whose sizes cycle through ``sizes``."""
    out, i, j = [], 0, 0
    while i < x.shape[-1]:
        n = sizes[j % len(sizes)]
        out.append(streamer.process(x[:, i:i + n]))
        i += n
        j += 1
    return np.concatenate(out, axis=1)


def test_streaming_equals_offline_causal_for_any_block_size(corpus, source):
    ref, _ = transfer_causal(source[None], SR, corpus, lag=1)
    s = Streamer(corpus, lag=1)
    assert s.latency == 2 * 1024
    for sizes in ([1023, 1, 77, 4096], [333]):
        s.reset()
        out = stream_blocks(s, source[None], sizes)
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
    # the output is not trivially silent, and the first `latency` samples are
    assert np.abs(ref[:, s.latency:]).max() > 0.05
    assert np.abs(ref[:, :s.latency]).max() == 0.0


def test_one_sample_blocks_and_lag_zero(corpus, source):
    x = source[None, : SR // 4]
    ref, _ = transfer_causal(x, SR, corpus, lag=0, continuity=3.0)
    s = Streamer(corpus, lag=0, continuity=3.0)
    assert s.latency == 1024
    out = np.concatenate([s.process(x[:, i:i + 1]) for i in range(x.shape[-1])], axis=1)
    np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)


def test_stream_output_is_corpus_audio(corpus, source):
    """With loudness following off, every output hop that is not a crossfade is a hop
    of some corpus file, copied sample for sample (a known answer of the renderer) from the
    file high-passed at 20 Hz (the streaming tables carry no DC or rumble)."""
    s = Streamer(corpus, lag=1, follow_loudness=False, continuity=4.0)
    out = s.process(source[None])[0]
    hop = s.hop
    tracks = [high_pass(np.asarray(corpus.file_audio(i))[:1], SR, DC_HZ)[0] for i in range(2)]
    found = 0
    for t in range(2, out.shape[0] // hop - 1):
        chunk = out[t * hop + hop // 2:(t + 1) * hop]  # past any crossfade
        if np.abs(chunk).max() == 0:
            continue
        for tr in tracks:
            starts = np.flatnonzero(np.abs(tr[: tr.shape[0] - chunk.shape[0]] - chunk[0]) < 1e-7)
            if any(np.allclose(tr[a:a + chunk.shape[0]], chunk, atol=1e-6) for a in starts):
                found += 1
                break
    assert found >= 0.9 * (out.shape[0] // hop - 3)


def test_silence_in_silence_out_and_stereo(corpus, source):
    s = Streamer(corpus)
    assert np.abs(s.process(np.zeros((1, 10000), np.float32))).max() == 0.0
    st = Streamer(corpus, channels=2)
    x = np.stack([source[:SR], np.zeros(SR, np.float32)])
    y = st.process(x)
    assert y.shape == x.shape
    assert np.abs(y[1]).max() == 0.0 and np.abs(y[0]).max() > 0.05
    assert np.abs(y).max() <= 0.989 + 1e-7


def test_limiter_keeps_peaks_under_the_ceiling_without_clipping(corpus, source):
    """A source boosted 4x: loudness following asks for peaks over 0 dBFS; the limiter holds
    them at 0.989 with a gain that moves gradually (no flat-topped runs of clipped samples)."""
    s = Streamer(corpus, wet=0.0)
    y = s.process(4.0 * source[None])[0]
    assert np.abs(y).max() <= 0.989 + 1e-7
    at_ceiling = np.abs(y) >= 0.989 - 1e-6
    assert at_ceiling.mean() < 0.01
    loud = 4.0 * source[: y.shape[0] - s.latency]
    # where the input was far over the ceiling the output is scaled, not clipped: its shape is kept
    seg = slice(s.latency, y.shape[0])
    r = np.corrcoef(y[seg], loud)[0, 1]
    assert r > 0.95


def test_corpus_of_one_file(data_dir, source):
    tone = load(data_dir / "piano_melody.flac", sr=SR, mono=True, duration=1.5)[0][0]
    one = MemoryCorpus.from_audio([(tone, SR)])
    ref, _ = transfer_causal(source[None, :SR], SR, one)
    s = Streamer(one)
    out = stream_blocks(s, source[None, :SR], [511])
    np.testing.assert_allclose(out, ref, atol=ATOL, rtol=0)
    assert np.abs(out).max() > 0.01


def test_wet_zero_is_the_delayed_source(corpus, source):
    s = Streamer(corpus, wet=0.0)
    y = s.process(source[None, :SR // 2])[0]
    assert np.abs(source[:SR // 2]).max() < 0.98  # under the limiter's ceiling: passed unchanged
    np.testing.assert_allclose(y[s.latency:], source[:SR // 2 - s.latency], atol=1e-7)


def test_bad_options_are_one_line_errors(corpus):
    with pytest.raises(LatentmorphError):
        Streamer(corpus, lag=-1)
    with pytest.raises(LatentmorphError):
        Streamer(corpus, colour="blue")
    with pytest.raises(LatentmorphError):
        Streamer(corpus, normalize="both")
    s = Streamer(corpus, channels=1)
    with pytest.raises(LatentmorphError):
        s.process(np.zeros((2, 10), np.float32))


def test_the_stream_tables_carry_no_dc(data_dir):
    """The bundled water excerpt has a DC offset 12 dB under its power; block-wise loudness
    following would play it as thumps shaped like the source's envelope, so the tables hold
    the corpus high-passed at 20 Hz."""
    from latentmorph.stream.tables import build_tables

    water = load(data_dir / "water_ufoai.flac", sr=SR, mono=True, duration=4.0)[0]
    assert abs(float(water.mean())) > 0.1 * float(water.std())
    tables = build_tables(MemoryCorpus.from_audio([(water, SR)]))
    audio = np.asarray(tables.audio)[SR // 4: water.shape[-1]]  # past the filter's first ~50 ms
    assert abs(float(audio.mean())) < 1e-3 * float(audio.std())
