"""Reading and writing audio files (soundfile), with clear errors and atomic saves."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from latentmorph.atomic import atomic_path
from latentmorph.audio.channels import MAX_CHANNELS, as_2d, match_channels, to_mono
from latentmorph.audio.resample import resample
from latentmorph.audio.validate import DEFAULT_MAX_SECONDS, check_wave
from latentmorph.errors import AudioError, AudioTooLong
from latentmorph.numbers import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, RANGES, OptionError, check_number


class TruncatedAudioWarning(UserWarning):
    """The file holds fewer samples than its header announces (a cut-off download or copy)."""

#: File extensions we treat as audio when scanning folders.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3", ".opus")


def max_seconds_default() -> float:
    """The input length limit: ``$LATENTMORPH_MAX_SECONDS`` or :data:`DEFAULT_MAX_SECONDS`.

    A value that is not a number above 0 (``nan``, ``0``, ``-1``) is refused rather than
    read as "no limit".
    """
    value = os.environ.get("LATENTMORPH_MAX_SECONDS")
    if not value:
        return DEFAULT_MAX_SECONDS
    try:
        return float(check_number("LATENTMORPH_MAX_SECONDS", value, RANGES["max_seconds"]))
    except OptionError as err:
        raise AudioError(str(err)) from None


def resolve_max_seconds(max_seconds: float | None) -> float:
    """The limit to apply: ``max_seconds`` checked (finite, above 0), or the default.

    ``0`` means "no limit" for library code that re-reads files it already accepted (the
    CLI's ``--max-seconds`` refuses 0); NaN, inf and negative values raise :class:`AudioError`.
    """
    if max_seconds is None:
        return max_seconds_default()
    if not isinstance(max_seconds, bool) and max_seconds == 0:
        return float("inf")
    try:
        return float(check_number("max_seconds", max_seconds))
    except OptionError as err:
        raise AudioError(str(err)) from None


def _wav_header_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header announces (data chunk size / block align), or ``None``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block = None
            for _ in range(64):  # a real file has a handful of chunks before "data"
                hdr = fh.read(8)
                if len(hdr) < 8:
                    return None
                cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(min(size, 16))
                    if len(fmt) < 14:
                        return None
                    block = struct.unpack("<H", fmt[12:14])[0]
                    fh.seek(size - len(fmt) + (size & 1), 1)
                elif cid == b"data":
                    if not block or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


def _open_checked(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, expected an audio file")
    try:
        size = path.stat().st_size
    except OSError as err:
        raise AudioError(f"{path}: cannot be read ({err.strerror})") from None
    if size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        return sf.SoundFile(str(path))
    except PermissionError:
        raise AudioError(f"{path}: permission denied") from None
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        detail = str(err).split(":")[-1].strip() or "unknown format"
        raise AudioError(f"{path}: not a readable audio file ({detail})") from None


def _check_header(path: Path, f: sf.SoundFile) -> None:
    """Refuse absurd channel counts and sample rates; warn when a WAV is shorter than its header says."""
    if not 1 <= int(f.channels) <= MAX_CHANNELS:
        raise AudioError(f"{path}: header claims {f.channels} channels (at most {MAX_CHANNELS} supported); the file is damaged or not audio")
    if not MIN_SAMPLE_RATE <= int(f.samplerate) <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{path}: header claims a sample rate of {f.samplerate} Hz (supported: {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz); "
            "the file is damaged or not audio"
        )
    announced = _wav_header_frames(path)
    if announced is not None and announced > int(f.frames):
        _warn_truncated(path, announced, int(f.frames), int(f.samplerate))


def _warn_truncated(path: Path, announced: int, got: int, sr: int) -> None:
    warnings.warn(
        f"{path}: truncated: the header announces {announced / sr:.2f} s but the file holds {got / sr:.2f} s; "
        "using what is there",
        TruncatedAudioWarning,
        stacklevel=3,
    )


def info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(sample_rate, channels, frames)`` of an audio file without decoding it.

    Raises :class:`AudioError` for headers with absurd channel counts or sample rates.
    """
    path = Path(path)
    with _open_checked(path) as f:
        _check_header(path, f)
        return int(f.samplerate), int(f.channels), int(f.frames)


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    *,
    mono: bool = False,
    channels: int | None = None,
    max_seconds: float | None = None,
    offset: float = 0.0,
    duration: float | None = None,
    warn_silence: bool = True,
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32 ``[channels, samples]``.

    Args:
        path: WAV, FLAC, OGG/Opus, AIFF, or MP3 (where libsndfile supports it).
        sr: resample to this rate (soxr HQ); ``None`` keeps the file's rate.
        mono: average channels to one.
        channels: force this channel count (mono duplicated, extra channels averaged).
        max_seconds: refuse longer files (default ``$LATENTMORPH_MAX_SECONDS`` or 1 h; ``0`` = no
            limit, for files already accepted once; NaN/negative raise).
        offset, duration: read a part of the file, in seconds.
        warn_silence: warn when the audio is silent.

    Returns:
        ``(wave, sample_rate)``.

    Raises:
        AudioError: missing, empty, directory, corrupt/non-audio, NaN/Inf, too long.
    """
    path = Path(path)
    limit = resolve_max_seconds(max_seconds)
    with _open_checked(path) as f:
        _check_header(path, f)
        file_sr, nch = int(f.samplerate), int(f.channels)
        total = int(f.frames)
        start = max(0, int(round(offset * file_sr)))
        count = total - start if duration is None else min(total - start, int(round(duration * file_sr)))
        if total <= 0 or count <= 0:
            raise AudioError(f"{path}: contains no audio (zero samples)")
        if count / file_sr > limit:
            raise AudioTooLong(
                f"{path}: is {count / file_sr:.0f} s long, over the {limit:.0f} s limit "
                "(raise it with --max-seconds or LATENTMORPH_MAX_SECONDS)"
            )
        try:
            f.seek(start)
            data = f.read(count, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{path}: audio data is corrupt ({str(err).strip()})") from None
        except MemoryError:
            raise AudioError(f"{path}: too large to load ({count / file_sr:.0f} s x {nch} channels); lower --max-seconds") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio (zero samples)")
    if data.shape[0] < count:
        _warn_truncated(path, start + count, start + data.shape[0], file_sr)
    if data.shape[1] != nch:  # never guess the layout from the shape
        raise AudioError(f"{path}: read {data.shape[1]} channels, header says {nch}; the file is damaged")
    wave = np.ascontiguousarray(data.T)
    check_wave(wave, file_sr, str(path), warn_silence=warn_silence)
    if mono:
        wave = to_mono(wave)
    elif channels is not None:
        wave = match_channels(wave, channels)
    if sr is not None and int(sr) != file_sr:
        wave = resample(wave, file_sr, int(sr))
        file_sr = int(sr)
    return wave, file_sr


_OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aif": "AIFF", ".aiff": "AIFF"}


def check_output_path(path: str | os.PathLike) -> str:
    """Return the soundfile format for an output path, or raise :class:`AudioError`.

    Commands call this before long work, so a bad ``-o`` fails at once, not at the end.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _OUTPUT_FORMATS:
        raise AudioError(f"{path}: unsupported output format {ext or '(no extension)'}; use .wav, .flac, .ogg or .aiff")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, expected an output file name")
    return _OUTPUT_FORMATS[ext]


def save(
    path: str | os.PathLike,
    wave: np.ndarray,
    sr: int,
    *,
    subtype: str | None = None,
) -> Path:
    """Write ``wave`` (``[channels, samples]`` or ``[samples]``) atomically.

    The format follows the extension (.wav, .flac, .ogg, .aiff). WAV defaults to
    16-bit PCM. Samples are clipped to [-1, 1] and NaN/Inf refused, so a written file
    is always playable.
    """
    path = Path(path)
    wave = as_2d(wave)
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: refusing to write audio that contains NaN/Inf")
    fmt = check_output_path(path)
    if subtype is None:
        subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "AIFF": "PCM_16", "OGG": "VORBIS"}[fmt]
    data = np.clip(wave, -1.0, 1.0).T
    from latentmorph.outputs import write_errors

    with write_errors(path), atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sr), subtype=subtype, format=fmt)
    return path


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printable text: bytes that are not UTF-8 shown as ``\\xNN`` escapes."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def _utf8_name(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan_audio_files(paths: list[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders (recursively) into audio files, and say what was left out.

    Folders are walked following symbolic links to sub-folders; a folder reached twice
    (a link loop, or two links to one folder) is scanned once. Inside folders only
    :data:`AUDIO_EXTENSIONS` are taken; files named explicitly are kept whatever their
    extension. Missing inputs raise :class:`AudioError`.

    Returns:
        ``(files, skipped)``: the audio files (each input's files sorted by path, no file
        twice), and ``[(path, reason)]`` for what could not be taken: names that are not
        valid UTF-8 (shown with ``\\xNN`` escapes), broken links, unreadable folders.
    """
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    visited: set[tuple[int, int]] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found.extend(sorted(_walk(p, visited, skipped)))
        elif p.exists():
            if _utf8_name(p):
                found.append(p)
            else:
                skipped.append((display_path(p), "file name is not valid UTF-8; rename the file to index it"))
        elif p.is_symlink():
            skipped.append((display_path(p), "broken symbolic link"))
        else:
            raise AudioError(f"{display_path(p)}: file or folder not found")
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, skipped


def _walk(root: Path, visited: set[tuple[int, int]], skipped: list[tuple[str, str]]) -> list[Path]:
    """Audio files under ``root``, following links to folders, each real folder once."""
    out: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as err:
            skipped.append((display_path(folder), f"folder cannot be read ({err.strerror})"))
            continue
        if (st.st_dev, st.st_ino) in visited:
            continue  # a link loop, or a folder already reached through another link
        visited.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            skipped.append((display_path(folder), f"folder cannot be read ({err.strerror})"))
            continue
        for e in entries:
            q = Path(e.path)
            try:
                is_dir = e.is_dir()  # follows links
                is_file = not is_dir and e.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                stack.append(q)
                continue
            if q.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            if not is_file:
                if e.is_symlink():
                    skipped.append((display_path(q), "broken symbolic link"))
                continue
            if not _utf8_name(q):
                skipped.append((display_path(q), "file name is not valid UTF-8; rename the file to index it"))
                continue
            out.append(q)
    return out


def find_audio_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of audio files.

    Files named explicitly are kept whatever their extension; inside folders only
    :data:`AUDIO_EXTENSIONS` are taken. Missing paths raise :class:`AudioError`.
    What cannot be taken is left out; :func:`scan_audio_files` also says why.
    """
    return scan_audio_files(paths)[0]
