"""Safe Standard MIDI File (SMF) reader and writer, and the piano roll (standard library + numpy).

The reader is written from the SMF 1.0 specification and treats every file as untrusted:
every length field is checked against the bytes that are really there, the file size, the
track count, the event count and the piece's length are capped, and any problem raises a
one-line :class:`~latentmorph.errors.ConditionError` naming the file (never a traceback or
a hang). Supported: formats 0 and 1 (format 2, independent sequences, is refused), running
status, tempo changes (meta 0x51) in any track, note-on with velocity 0 as note-off,
metrical (ticks per quarter note) and SMPTE (frames per second x ticks per frame) division,
overlapping notes of the same pitch (paired first-on, first-off), notes still sounding at
the end of their track (ended there). Unknown chunk types are skipped, as the spec asks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from latentmorph.errors import ConditionError

#: Largest MIDI file read (bytes).
MAX_BYTES = 8 * 1024 * 1024
#: Most tracks in a file (header count and chunks actually read).
MAX_TRACKS = 1024
#: Most events in a file (all tracks together).
MAX_EVENTS = 1_000_000
#: Longest piece (seconds); later notes mean a corrupt or absurd file.
MAX_SECONDS = 3600.0

#: Ticks per quarter note written by :func:`write_midi`.
WRITE_DIVISION = 480

_DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 BPM), the SMF default


@dataclass(frozen=True)
class Note:
    """One note: ``pitch`` 0..127, ``start`` < ``end`` in seconds, ``velocity`` 1..127."""

    pitch: int
    start: float
    end: float
    velocity: int


class _Corrupt(Exception):
    """Internal: the byte stream breaks the spec; turned into a ConditionError naming the file."""


class _Reader:
    """Bounds-checked cursor over a bytes object."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise _Corrupt("truncated (an event runs past the end of its track)")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _Corrupt("truncated (a length field points past the end of its track)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def vlq(self) -> int:
        """Variable-length quantity: at most 4 bytes (values up to 0x0FFFFFFF), as the spec says."""
        value = 0
        for _ in range(4):
            b = self.byte()
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value
        raise _Corrupt("corrupt (a variable-length number is longer than 4 bytes)")


def _data_byte(r: _Reader) -> int:
    b = r.byte()
    if b & 0x80:
        raise _Corrupt(f"corrupt (status byte 0x{b:02X} where a data byte belongs)")
    return b


# data bytes that follow each channel-message status (high nibble)
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


@dataclass
class _Track:
    notes: list[tuple[int, int, int, int, int]]  # (start tick, end tick, pitch, velocity, order)
    tempos: list[tuple[int, int]]  # (tick, microseconds per quarter)
    end_tick: int


def _read_track(r: _Reader, budget: list[int]) -> _Track:
    tick = 0
    status = 0  # running status: 0 means none yet
    open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    notes: list[tuple[int, int, int, int, int]] = []
    tempos: list[tuple[int, int]] = []
    while r.pos < r.end:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Corrupt(f"too many events (more than {MAX_EVENTS})")
        tick += r.vlq()
        first = r.byte()
        if first == 0xFF:  # meta event
            kind = r.byte()
            payload = r.take(r.vlq())
            if kind == 0x51:
                if len(payload) != 3:
                    raise _Corrupt("corrupt (a tempo event without 3 data bytes)")
                usec = int.from_bytes(payload, "big")
                if usec == 0:
                    raise _Corrupt("corrupt (a tempo of 0 microseconds per quarter note)")
                tempos.append((tick, usec))
            elif kind == 0x2F:
                break  # end of track; bytes after it (if any) are ignored
            continue
        if first in (0xF0, 0xF7):  # sysex / escaped bytes
            r.take(r.vlq())
            continue
        if first & 0x80:
            if first >= 0xF0:  # system common/real-time bytes do not belong in a file
                raise _Corrupt(f"corrupt (status byte 0x{first:02X} in a track)")
            status = first
            d1 = _data_byte(r)
        else:
            if status == 0:
                raise _Corrupt("corrupt (a data byte before any status byte)")
            d1 = first
        kind, channel = status & 0xF0, status & 0x0F
        d2 = _data_byte(r) if _DATA_LEN[kind] == 2 else 0
        if kind == 0x90 and d2 > 0:
            open_notes.setdefault((channel, d1), []).append((tick, d2))
        elif kind == 0x80 or (kind == 0x90 and d2 == 0):
            stack = open_notes.get((channel, d1))
            if stack:
                start, velocity = stack.pop(0)  # first on, first off
                if tick > start:
                    notes.append((start, tick, d1, velocity, len(notes)))
    for (channel, pitch), stack in open_notes.items():  # still sounding: end at the track's end
        for start, velocity in stack:
            if tick > start:
                notes.append((start, tick, pitch, velocity, len(notes)))
    return _Track(notes=notes, tempos=tempos, end_tick=tick)


def _tick_to_seconds(division: int, tempos: list[tuple[int, int]]):
    """A vectorised ticks -> seconds map for the given division and tempo changes."""
    if division & 0x8000:  # SMPTE: -frames per second in the high byte, ticks per frame in the low
        fps = 256 - (division >> 8)
        per_frame = division & 0xFF
        if fps not in (24, 25, 29, 30) or per_frame == 0:
            raise _Corrupt(f"corrupt (SMPTE division {fps} fps x {per_frame} ticks)")
        rate = (29.97 if fps == 29 else float(fps)) * per_frame
        return lambda ticks: np.asarray(ticks, dtype=np.float64) / rate
    if division == 0:
        raise _Corrupt("corrupt (0 ticks per quarter note)")
    changes: dict[int, int] = {}
    for tick, usec in sorted(tempos, key=lambda x: x[0]):
        changes[tick] = usec  # the last change at a tick wins
    ticks = [0]
    usecs = [changes.pop(0, _DEFAULT_TEMPO)]
    for tick in sorted(changes):
        ticks.append(tick)
        usecs.append(changes[tick])
    starts = np.asarray(ticks, dtype=np.float64)
    per_tick = np.asarray(usecs, dtype=np.float64) / (1e6 * division)  # seconds per tick
    offsets = np.concatenate([[0.0], np.cumsum(np.diff(starts) * per_tick[:-1])])

    def convert(t):
        t = np.asarray(t, dtype=np.float64)
        k = np.searchsorted(starts, t, side="right") - 1
        return offsets[k] + (t - starts[k]) * per_tick[k]

    return convert


def parse_midi(data: bytes, name: str = "MIDI data") -> list[Note]:
    """Notes of an SMF held in ``data``; :class:`ConditionError` naming ``name`` on any problem.

    Returns:
        notes sorted by start time, then pitch.
    """
    try:
        return _parse(data)
    except _Corrupt as err:
        raise ConditionError(f"{name}: {err}") from None
    except ConditionError as err:
        raise ConditionError(f"{name}: {err}") from None


def _parse(data: bytes) -> list[Note]:
    if len(data) > MAX_BYTES:
        raise _Corrupt(f"too large for a MIDI file ({len(data)} bytes, limit {MAX_BYTES})")
    if data[:4] != b"MThd":
        raise ConditionError("not a MIDI file (no 'MThd' header)")
    if len(data) < 14:
        raise _Corrupt("truncated (the header is incomplete)")
    length = int.from_bytes(data[4:8], "big")
    if length < 6 or 8 + length > len(data):
        raise _Corrupt(f"corrupt (header length {length})")
    fmt = int.from_bytes(data[8:10], "big")
    ntrks = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    if fmt == 2:
        raise ConditionError("MIDI format 2 (independent sequences) is not supported; save it as format 1")
    if fmt not in (0, 1):
        raise _Corrupt(f"corrupt (unknown MIDI format {fmt})")
    if ntrks == 0:
        raise _Corrupt("corrupt (the header announces no tracks)")
    if ntrks > MAX_TRACKS:
        raise _Corrupt(f"too many tracks ({ntrks}, limit {MAX_TRACKS})")
    pos = 8 + length
    tracks: list[_Track] = []
    budget = [MAX_EVENTS]
    while len(tracks) < ntrks:
        if pos + 8 > len(data):
            raise _Corrupt(f"truncated (the header announces {ntrks} tracks, the file holds {len(tracks)})")
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "big")
        body = pos + 8
        if body + size > len(data):
            raise _Corrupt(f"truncated (a {size}-byte chunk runs past the end of the file)")
        if kind == b"MTrk":
            tracks.append(_read_track(_Reader(data, body, body + size), budget))
        pos = body + size  # unknown chunk types are skipped
    tempos = [t for track in tracks for t in track.tempos]
    to_seconds = _tick_to_seconds(division, tempos)
    rows = [(s, e, p, v, i, o) for i, track in enumerate(tracks) for (s, e, p, v, o) in track.notes]
    if not rows:
        raise ConditionError("no notes in this MIDI file")
    arr = np.asarray(rows, dtype=np.int64)
    starts, ends = to_seconds(arr[:, 0]), to_seconds(arr[:, 1])
    if float(ends.max()) > MAX_SECONDS:
        raise _Corrupt(f"absurd length (a note ends after {float(ends.max()):.0f} s, limit {MAX_SECONDS:.0f} s)")
    order = np.lexsort((arr[:, 5], arr[:, 4], arr[:, 2], starts))
    return [
        Note(pitch=int(arr[k, 2]), start=float(starts[k]), end=float(ends[k]), velocity=int(arr[k, 3]))
        for k in order
        if ends[k] > starts[k]
    ]


def read_midi(path: str | os.PathLike) -> list[Note]:
    """Read the notes of a Standard MIDI File.

    Returns:
        notes sorted by start time, then pitch (times in seconds, tempo changes applied).

    Raises:
        ConditionError: naming the file when it is missing, not MIDI, truncated, corrupt,
            absurdly large or long, or holds no notes.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ConditionError(f"{path}: no such MIDI file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConditionError(f"{path}: too large for a MIDI file ({size} bytes, limit {MAX_BYTES})")
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise ConditionError(f"{path}: cannot read ({err.strerror or err})") from None
    return parse_midi(data, str(path))


def _vlq_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _check_note(n: Note, i: int) -> None:
    ok = (
        isinstance(n.pitch, (int, np.integer)) and 0 <= int(n.pitch) <= 127
        and isinstance(n.velocity, (int, np.integer)) and 1 <= int(n.velocity) <= 127
        and math.isfinite(n.start) and math.isfinite(n.end) and 0 <= n.start < n.end <= MAX_SECONDS
    )
    if not ok:
        raise ConditionError(
            f"note {i} cannot be written (pitch 0..127, velocity 1..127, 0 <= start < end <= {MAX_SECONDS:.0f} s): {n}"
        )


def midi_bytes(notes: Sequence[Note], *, bpm: float = 120.0) -> bytes:
    """A format-0 SMF (480 ticks per quarter, one tempo event, channel 1, no running status)."""
    if not (math.isfinite(bpm) and 1.0 <= bpm <= 1000.0):
        raise ConditionError(f"tempo must be between 1 and 1000 BPM, got {bpm!r}")
    for i, n in enumerate(notes):
        _check_note(n, i)
    usec = int(round(60e6 / bpm))
    ticks_per_s = WRITE_DIVISION * 1e6 / usec
    events = []  # (tick, 0 = off before 1 = on at the same tick, pitch, bytes)
    for n in notes:
        on = int(round(n.start * ticks_per_s))
        off = max(on + 1, int(round(n.end * ticks_per_s)))
        events.append((on, 1, int(n.pitch), bytes([0x90, int(n.pitch), int(n.velocity)])))
        events.append((off, 0, int(n.pitch), bytes([0x80, int(n.pitch), 0])))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    body = bytearray(b"\x00\xff\x51\x03" + usec.to_bytes(3, "big"))
    last = 0
    for tick, _, _, msg in events:
        body += _vlq_bytes(tick - last) + msg
        last = tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += WRITE_DIVISION.to_bytes(2, "big")
    return header + b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def write_midi(path: str | os.PathLike, notes: Sequence[Note], *, bpm: float = 120.0) -> Path:
    """Write ``notes`` to ``path`` as a format-0 Standard MIDI File, atomically.

    Times are quantised to 1/480 of a beat at ``bpm`` (one tempo event); a note at least one
    tick long. Returns the path written.
    """
    from latentmorph.atomic import atomic_write_bytes

    data = midi_bytes(notes, bpm=bpm)
    path = Path(path)
    atomic_write_bytes(path, data)
    return path


def piano_roll(notes: Sequence[Note], frame_rate: float, n_frames: int | None = None) -> np.ndarray:
    """Piano roll of ``notes``: float32 ``[128, T]``, ``velocity / 127`` while a note sounds.

    Frame ``i`` (at ``i / frame_rate`` s) sounds a note when ``start <= i / frame_rate < end``;
    a note shorter than a frame still marks the frame at or after its start. Overlapping notes
    of one pitch take the louder velocity. ``T`` defaults to ``ceil(last end * frame_rate)``.
    """
    if not (frame_rate > 0 and math.isfinite(frame_rate)):
        raise ValueError(f"piano_roll: frame_rate must be positive, got {frame_rate}")
    if n_frames is None:
        last = max((n.end for n in notes), default=0.0)
        n_frames = int(math.ceil(last * frame_rate - 1e-9))
    if n_frames < 0:
        raise ValueError(f"piano_roll: n_frames must be >= 0, got {n_frames}")
    roll = np.zeros((128, n_frames), dtype=np.float32)
    for n in notes:
        a = int(math.ceil(n.start * frame_rate - 1e-9))
        b = max(a + 1, int(math.ceil(n.end * frame_rate - 1e-9)))
        a, b = max(0, a), min(n_frames, b)
        if a < b:
            seg = roll[int(n.pitch), a:b]
            np.maximum(seg, np.float32(n.velocity / 127.0), out=seg)
    return roll
