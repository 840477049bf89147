"""Standard MIDI File reader/writer: spec cases built by hand, round trips, and a fuzz test."""

from __future__ import annotations

import time

import numpy as np
import pytest

from latentmorph.diffusion.features.midi import (
    MAX_BYTES,
    Note,
    midi_bytes,
    parse_midi,
    piano_roll,
    read_midi,
    write_midi,
)
from latentmorph.errors import ConditionError


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "big") + body


def _smf(tracks: list[bytes], *, fmt: int = 1, division: int = 96) -> bytes:
    head = _chunk(b"MThd", fmt.to_bytes(2, "big") + len(tracks).to_bytes(2, "big") + division.to_bytes(2, "big"))
    return head + b"".join(_chunk(b"MTrk", t) for t in tracks)


EOT = b"\x00\xff\x2f\x00"


def test_hand_built_file_is_written_byte_for_byte(tmp_path):
    notes = [Note(60, 0.0, 0.5, 100), Note(64, 0.5, 1.25, 80)]
    out = write_midi(tmp_path / "two.mid", notes, bpm=120.0)
    expected = (
        b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0"  # format 0, 1 track, 480 ticks per quarter
        + b"MTrk\x00\x00\x00\x1d"  # 29 bytes of events
        + b"\x00\xff\x51\x03\x07\xa1\x20"  # tempo 500000 us per quarter (120 BPM)
        + b"\x00\x90\x3c\x64"  # t=0 note on 60 velocity 100
        + b"\x83\x60\x80\x3c\x00"  # +480 ticks (0.5 s): note off 60
        + b"\x00\x90\x40\x50"  # same tick: note on 64 velocity 80
        + b"\x85\x50\x80\x40\x00"  # +720 ticks (0.75 s): note off 64
        + EOT
    )
    assert out.read_bytes() == expected
    assert read_midi(out) == notes
    assert [p.name for p in tmp_path.iterdir()] == ["two.mid"]  # atomic: no temporary left


def test_round_trip_keeps_notes_at_tick_precision(tmp_path):
    rng = np.random.default_rng(0)
    notes, busy_until = [], {}
    for _ in range(300):  # same-pitch notes may not overlap: MIDI cannot tell which off ends which on
        pitch = int(rng.integers(0, 128))
        start = busy_until.get(pitch, 0.0) + float(rng.uniform(0.01, 10))
        end = start + float(rng.uniform(0.01, 2))
        busy_until[pitch] = end
        notes.append(Note(pitch, start, end, int(rng.integers(1, 128))))
    for bpm in (90.0, 137.0):
        back = read_midi(write_midi(tmp_path / "r.mid", notes, bpm=bpm))
        tick = 60.0 / bpm / 480
        key = lambda n: (round(n.start / tick), n.pitch, round(n.end / tick))  # noqa: E731
        assert len(back) == len(notes)
        for a, b in zip(sorted(notes, key=key), sorted(back, key=key)):
            assert a.pitch == b.pitch and a.velocity == b.velocity
            assert abs(a.start - b.start) <= tick and abs(a.end - b.end) <= 1.5 * tick


def test_running_status_velocity_zero_and_tempo_changes():
    # track 0: tempo 120 BPM at tick 0, 60 BPM at tick 192 (two beats at 96 ticks per quarter)
    tempo = b"\x00\xff\x51\x03\x07\xa1\x20" + b"\x81\x40\xff\x51\x03\x0f\x42\x40" + EOT
    # track 1: note on 60 at 0, running-status note on 62 at 96; note-on velocity 0 ends 60 at 192,
    # then 62 at 288 (one beat at the slower tempo), a note-off (0x80) after that
    events = (
        b"\x00\x90\x3c\x50"
        + b"\x60\x3e\x40"  # running status (0x90), pitch 62
        + b"\x60\x3c\x00"  # running status, velocity 0 -> note-off 60
        + b"\x60\x3e\x00"  # ends 62 at tick 288
        + b"\x00\x90\x40\x7f\x60\x80\x40\x00"  # 64 from 288 to 384
        + EOT
    )
    notes = parse_midi(_smf([tempo, events]), "t.mid")
    # seconds: ticks 0..192 at 0.5 s/beat -> 1.0 s; each later beat lasts 1.0 s
    assert [(n.pitch, n.start, n.end, n.velocity) for n in notes] == [
        (60, 0.0, 1.0, 0x50),
        (62, 0.5, 2.0, 0x40),
        (64, 2.0, 3.0, 0x7F),
    ]


def test_overlapping_same_pitch_and_unclosed_notes():
    events = (
        b"\x00\x90\x3c\x40"  # 60 on at 0
        + b"\x60\x90\x3c\x50"  # 60 on again at 96 (still sounding)
        + b"\x60\x80\x3c\x00"  # off at 192: ends the first
        + b"\x60\x80\x3c\x00"  # off at 288: ends the second
        + b"\x00\x90\x43\x30"  # 67 never ends: closed at the track's end
        + b"\x83\x00\xff\x2f\x00"  # end of track at 288 + 384 = 672
    )
    notes = parse_midi(_smf([events], fmt=0, division=96), "o.mid")
    beat = 0.5 / 96  # seconds per tick at the default 120 BPM
    assert [(n.pitch, n.start, n.end, n.velocity) for n in notes] == [
        (60, 0.0, 192 * beat, 0x40),
        (60, 96 * beat, 288 * beat, 0x50),
        (67, 288 * beat, 672 * beat, 0x30),
    ]


def test_smpte_division_and_skipped_chunks():
    division = ((256 - 25) << 8) | 40  # 25 fps x 40 ticks per frame = 1000 ticks/s
    events = b"\x00\x90\x45\x64" + b"\x87\x68\x80\x45\x00" + EOT  # 1000 ticks = 1 s
    data = _smf([events], fmt=0, division=division)
    # an unknown chunk before the track is skipped, as the spec asks
    data = data[:14] + _chunk(b"XFIH", b"\x01\x02\x03") + data[14:]
    notes = parse_midi(data, "s.mid")
    assert [(n.pitch, n.start, n.end) for n in notes] == [(69, 0.0, 1.0)]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"RIFF\x00\x00\x00\x00WAVE", "not a MIDI file"),
        (b"", "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01", "truncated"),
        (_smf([EOT], fmt=1)[:-3], "truncated"),
        (_smf([b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + EOT])[:-12], "truncated"),
        (_smf([b"\x00\xff\x01\x7f\x41" + EOT]), "truncated"),  # a text event longer than its track
        (_smf([b"\x00\xff\x51\x03\x00\x00\x00" + EOT]), "tempo of 0"),
        (_smf([b"\x00\x3c\x40" + EOT]), "before any status"),
        (_smf([b"\xff\xff\xff\xff\x7f\x90\x3c\x40" + EOT]), "longer than 4 bytes"),
        (_smf([b"\x00\xff\x01\x03abc" + EOT]), "no notes"),
        (_smf([EOT], fmt=2), "format 2"),
        (_smf([EOT], division=0), "0 ticks"),
        (b"MThd\x00\x00\x00\x06\x00\x01\xff\xff\x00\x60", "too many tracks"),
    ],
)
def test_bad_files_are_one_line_condition_errors(tmp_path, data, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(ConditionError) as err:
        read_midi(path)
    message = str(err.value)
    assert str(path) in message and words in message and "\n" not in message


def test_missing_and_oversized_files(tmp_path):
    with pytest.raises(ConditionError, match="no such MIDI file"):
        read_midi(tmp_path / "nope.mid")
    big = tmp_path / "big.mid"
    with open(big, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(ConditionError, match="too large"):
        read_midi(big)


def test_fuzzed_bytes_never_escape_as_another_exception():
    """Random and mutated files: each either parses to valid notes or raises ConditionError, quickly."""
    rng = np.random.default_rng(1234)
    seeds = [
        midi_bytes([Note(60 + k % 12, 0.1 * k, 0.1 * k + 0.3, 90) for k in range(40)], bpm=100.0),
        _smf([b"\x00\xff\x51\x03\x07\xa1\x20" + EOT, b"\x00\x90\x3c\x50\x60\x3e\x40\x60\x3c\x00\x60\x3e\x00" + EOT]),
    ]
    deadline = time.monotonic() + 5.0
    outcomes = {"notes": 0, "error": 0}
    count = 0
    while time.monotonic() < deadline and count < 3000:
        count += 1
        base = bytearray(seeds[count % 2])
        mode = count % 4
        if mode == 0:  # random bytes behind a valid header prefix
            data = bytes(base[:14]) + rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        elif mode == 1:  # flip bytes
            for i in rng.integers(0, len(base), int(rng.integers(1, 8))):
                base[i] = int(rng.integers(0, 256))
            data = bytes(base)
        elif mode == 2:  # truncate
            data = bytes(base[: int(rng.integers(0, len(base)))])
        else:  # insert junk in the middle (length fields now lie)
            i = int(rng.integers(0, len(base)))
            data = bytes(base[:i]) + rng.integers(0, 256, int(rng.integers(1, 20)), dtype=np.uint8).tobytes() + bytes(base[i:])
        try:
            notes = parse_midi(data, "fuzz.mid")
        except ConditionError as err:
            assert "fuzz.mid" in str(err) and "\n" not in str(err)
            outcomes["error"] += 1
            continue
        for n in notes:
            assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 and 0 <= n.start < n.end
        outcomes["notes"] += 1
    assert count >= 200 and outcomes["error"] > 0 and outcomes["notes"] > 0


def test_write_refuses_bad_notes(tmp_path):
    for bad in (Note(128, 0, 1, 10), Note(60, 1, 1, 10), Note(60, 0, 1, 0), Note(60, -1, 1, 10)):
        with pytest.raises(ConditionError):
            write_midi(tmp_path / "x.mid", [bad])
    assert not (tmp_path / "x.mid").exists()


def test_piano_roll():
    notes = [Note(60, 0.0, 0.5, 127), Note(60, 0.25, 1.0, 64), Note(72, 0.5, 0.501, 32)]
    roll = piano_roll(notes, 100.0)
    assert roll.shape == (128, 100) and roll.dtype == np.float32
    assert np.all(roll[60, :50] == 1.0) and np.allclose(roll[60, 50:100], 64 / 127)
    assert roll[72, 50] == pytest.approx(32 / 127) and roll[72].sum() == pytest.approx(32 / 127)  # short note: one frame
    assert roll[[p for p in range(128) if p not in (60, 72)]].sum() == 0
    assert piano_roll(notes, 100.0, n_frames=20).shape == (128, 20)
    assert piano_roll([], 10.0).shape == (128, 0)
