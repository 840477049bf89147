"""One fingerprint check, one message, for every reader of codec-made data."""

import pytest

from latentmorph.codecs import get_codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.errors import CodecError, CorpusError


def test_same_fingerprint_passes_and_another_is_one_line():
    a, b = get_codec("embedded"), get_codec("embedded:hop=512")
    check_fingerprint("x.lmindex", "index", a.fingerprint, a.fingerprint, fix="re-index")
    with pytest.raises(CorpusError) as e:
        check_fingerprint("x.lmindex", "index", a.fingerprint, b.fingerprint, made_spec="embedded",
                          expected_spec="embedded:hop=512", fix="use the same codec or re-index", error=CorpusError)
    assert str(e.value) == (f"x.lmindex: index made with codec embedded ({a.fingerprint}), "
                            f"not embedded:hop=512 ({b.fingerprint}); use the same codec or re-index")
    with pytest.raises(CodecError, match=r"^z.npy: latents made with codec embedded-\w+, not "):
        check_fingerprint("z.npy", "latents", a.fingerprint, b.fingerprint, fix="decode with --codec embedded")


def test_codec_declares_the_spec_that_rebuilds_it():
    """``get_codec`` records the spec on the instance (keyword overrides merged in), so an
    index built from that instance stores a spec that rebuilds the same fingerprint; an
    instance made directly declares none and gets one rebuilt from its config."""
    from latentmorph.codecs.embedded import EmbeddedCodec
    from latentmorph.corpus.codec_spec import resolve_codec

    c = get_codec("embedded:hop=512")
    assert c.spec == "embedded:hop=512" and c.weights_path is None and c.weights_sha == ""
    over = get_codec("embedded", hop=256)
    assert over.spec == "embedded:hop=256" and get_codec(over.spec).fingerprint == over.fingerprint
    assert resolve_codec(c) == (c, "embedded:hop=512")
    direct = EmbeddedCodec(hop=512)
    assert direct.spec is None
    _, rebuilt = resolve_codec(direct)
    assert get_codec(rebuilt).fingerprint == direct.fingerprint
