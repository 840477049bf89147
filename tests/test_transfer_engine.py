"""transfer() on real recordings from tests/data: known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from latentmorph.audio import load, rms_envelope, to_db
from latentmorph.audio.validate import SilentAudioWarning
from latentmorph.errors import CorpusError, LatentmorphError
from latentmorph.evaluate.features import mfcc
from latentmorph.transfer import PRESETS, MemoryCorpus, transfer
from latentmorph.transfer.render.mix import PEAK_CEILING


@pytest.fixture(scope="module")
def clips(data_dir):  # noqa: ANN001, ANN201
    def get(name: str, seconds: float, offset: float = 0.0) -> tuple[np.ndarray, int]:
        return load(data_dir / f"{name}.flac", offset=offset, duration=seconds)

    return get


def _mean_mfcc(x: np.ndarray, sr: int) -> np.ndarray:
    m = mfcc(np.asarray(x, dtype=np.float64).reshape(-1), sr)
    return m[1:].mean(axis=-1) if m.shape[0] < m.shape[-1] else m[:, 1:].mean(axis=0)


def _db_corr(a: np.ndarray, b: np.ndarray, hop: int) -> float:
    ea, eb = to_db(rms_envelope(a, hop), -60), to_db(rms_envelope(b, hop), -60)
    n = min(len(ea), len(eb))
    return float(np.corrcoef(ea[:n], eb[:n])[0, 1])


def test_corpus_of_the_source_itself_gives_back_the_source(clips) -> None:  # noqa: ANN001
    src, sr = clips("piano_melody", 3.0)
    corpus = MemoryCorpus.from_audio([(src, sr)])
    out, osr, res = transfer(src, sr, index=corpus, mode="nearest", return_report=True)
    ids = res.choices[0].ids[:, 0]
    frames = np.asarray(corpus.grains.frame)[ids]
    inner = slice(2, len(ids) - 3)  # file-edge frames are never matched
    assert np.mean(frames[inner] == np.arange(len(ids))[inner]) > 0.9
    # default settings (continuity, repeat avoidance): the output is (nearly) the source
    out, osr, res = transfer(src, sr, index=corpus, return_report=True)
    assert osr == sr and out.shape == src.shape
    ids = res.choices[0].ids[:, 0]
    assert np.mean(np.asarray(corpus.grains.frame)[ids] == np.arange(len(ids))) > 0.75
    from latentmorph.evaluate.features import log_mel

    a, b = log_mel(out[0].astype(np.float64), sr), log_mel(src[0].astype(np.float64), sr)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
    assert _db_corr(out, src, 1024) > 0.95


def test_single_sound_corpus_gives_that_sounds_timbre(clips) -> None:  # noqa: ANN001
    src, sr = clips("speech_codec2", 3.0)
    strings, ssr = clips("strings_melody", 6.0)
    out, osr = transfer(src, sr, corpus=[(strings, ssr)])
    from latentmorph.audio import resample

    m_out = _mean_mfcc(out, osr)
    m_src = _mean_mfcc(src, sr)
    m_corp = _mean_mfcc(resample(strings, ssr, osr), osr)
    assert np.linalg.norm(m_out - m_corp) < 0.5 * np.linalg.norm(m_out - m_src)
    assert _db_corr(out, src, 512) > 0.9  # and it still follows the speech's loudness


def test_silent_source_gives_silence(clips) -> None:  # noqa: ANN001
    corpus = MemoryCorpus.from_audio([clips("water_ufoai", 3.0)])
    with pytest.warns(SilentAudioWarning):
        out, _ = transfer(np.zeros(22050, np.float32), 22050, index=corpus)
    assert np.abs(out).max() == 0.0
    with pytest.warns(SilentAudioWarning):
        out, _ = transfer(np.zeros(22050, np.float32), 22050, index=corpus, **PRESETS["reference"])
    assert np.abs(out).max() == 0.0


def test_seed_makes_sampling_repeatable(clips) -> None:  # noqa: ANN001
    src, sr = clips("drums_amen", 1.5)
    corpus = MemoryCorpus.from_audio([clips("wind_ufoai", 4.0)])
    a, _ = transfer(src, sr, index=corpus, mode="sample", seed=11, temperature=2.0)
    b, _ = transfer(src, sr, index=corpus, mode="sample", seed=11, temperature=2.0)
    c, _ = transfer(src, sr, index=corpus, mode="sample", seed=12, temperature=2.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stereo_any_rate_lengths_and_safe_level(clips) -> None:  # noqa: ANN001
    left, sr = clips("guitar_sectoid", 1.5)
    right, _ = clips("guitar_sectoid", 1.5, offset=2.0)
    stereo = np.concatenate([left, right]) * (1.0 / np.abs(np.concatenate([left, right])).max())  # peak exactly 1
    corpus = MemoryCorpus.from_audio([clips("bells", 5.0)])
    out, osr = transfer(stereo, sr, index=corpus)
    assert out.shape == stereo.shape and osr == sr
    assert not np.allclose(out[0], out[1])  # channels are matched independently
    assert np.isfinite(out).all() and np.abs(out).max() <= PEAK_CEILING + 1e-6
    speech, ssr = clips("speech_codec2", 1.0)
    out16, r16 = transfer(speech[0], ssr, index=corpus)  # 1-D in, 1-D out at 16 kHz
    assert r16 == 16000 and out16.shape == (16000,)
    out22, r22 = transfer(speech[0], ssr, index=corpus, out_sr=22050)
    assert r22 == 22050 and out22.shape == (22050,)


def test_wet_zero_and_strength_zero_return_the_source(clips) -> None:  # noqa: ANN001
    src, sr = clips("speech_codec2", 1.5)
    corpus = MemoryCorpus.from_audio([clips("water_ufoai", 3.0)])
    dry, _ = transfer(src, sr, index=corpus, wet=0.0)
    np.testing.assert_allclose(dry, src, atol=1e-6)
    same, _ = transfer(src, sr, index=corpus, strength=0.0)
    assert np.corrcoef(same[0, 2000:-2000], src[0, 2000:-2000])[0, 1] > 0.99


def test_keep_source_threshold_keeps_far_frames(clips) -> None:  # noqa: ANN001
    src, sr = clips("speech_codec2", 1.5)
    corpus = MemoryCorpus.from_audio([clips("water_ufoai", 3.0)])
    out, _, res = transfer(src, sr, index=corpus, keep_source_threshold=1e-4, return_report=True)
    assert res.choices[0].kept.all()
    assert np.corrcoef(out[0, 2000:-2000], src[0, 2000:-2000])[0, 1] > 0.99
    _, _, res = transfer(src, sr, index=corpus, keep_source_threshold=2.5, return_report=True)
    assert not res.choices[0].kept.any()  # cosine distance never exceeds 2


def test_default_follows_loudness_and_continues_more_than_nearest(clips) -> None:  # noqa: ANN001
    src, sr = clips("drums_amen", 3.0)
    corpus = MemoryCorpus.from_audio([clips("wind_ufoai", 6.0)])
    out, _, res = transfer(src, sr, index=corpus, return_report=True)
    assert _db_corr(out, src, 1024) > 0.9
    _, _, ref = transfer(src, sr, index=corpus, mode="nearest", return_report=True)

    def continued(r) -> float:  # noqa: ANN001
        ids = r.choices[0].ids[:, 0]
        succ = {i: i + 1 for i in range(len(r.corpus))}
        return float(np.mean([succ.get(a) == b for a, b in zip(ids[:-1], ids[1:])]))

    assert continued(res) > continued(ref) + 0.2


def test_every_mode_window_and_renderer_produce_sane_audio(clips) -> None:  # noqa: ANN001
    src, sr = clips("guitar_sectoid", 1.0)
    corpus = MemoryCorpus.from_audio([clips("strings_melody", 3.0)])
    for kw in (dict(mode="soft", k=4), dict(window=4, stride=2), dict(metric="l2"), dict(metric="dot"),
               dict(normalize="both"), dict(follow_loudness=False), PRESETS["reference"]):
        out, osr = transfer(src, sr, index=corpus, **kw)
        assert out.shape == src.shape and np.isfinite(out).all() and np.abs(out).max() <= PEAK_CEILING + 1e-6, kw
        assert np.abs(out).max() > 1e-3, kw


def test_bad_arguments_raise_one_line_errors(clips) -> None:  # noqa: ANN001
    src, sr = clips("speech_codec2", 0.5)
    corpus = MemoryCorpus.from_audio([clips("water_ufoai", 1.0)])
    with pytest.raises(CorpusError):
        transfer(src, sr)  # no corpus
    with pytest.raises(CorpusError):
        transfer(src, sr, corpus=[])
    with pytest.raises(CorpusError):
        transfer(src, sr, index=corpus, codec="embedded:hop=512")
    for bad in (dict(metric="manhattan"), dict(mode="best"), dict(wet=1.5), dict(window=0)):
        with pytest.raises(LatentmorphError) as err:
            transfer(src, sr, index=corpus, **bad)
        assert "\n" not in str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(LatentmorphError):
            transfer(np.full(100, np.nan, np.float32), sr, index=corpus)
