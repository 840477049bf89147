"""Audio I/O, resampling, channel handling, loudness and input validation.

Inside latentmorph audio is float32 ``[channels, samples]`` with an explicit sample rate.
"""

from latentmorph.audio.channels import as_2d, match_channels, to_mono
from latentmorph.audio.io import (
    AUDIO_EXTENSIONS,
    MAX_CHANNELS,
    TruncatedAudioWarning,
    check_output_path,
    find_audio_files,
    info,
    load,
    resolve_max_seconds,
    save,
)
from latentmorph.audio.length import fit_length
from latentmorph.audio.loudness import rms_envelope, to_db
from latentmorph.audio.resample import band_limit, resample
from latentmorph.audio.validate import SilentAudioWarning, check_wave, is_silent

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_CHANNELS",
    "TruncatedAudioWarning",
    "resolve_max_seconds",
    "SilentAudioWarning",
    "as_2d",
    "band_limit",
    "check_output_path",
    "check_wave",
    "find_audio_files",
    "fit_length",
    "info",
    "is_silent",
    "load",
    "match_channels",
    "resample",
    "rms_envelope",
    "save",
    "to_db",
    "to_mono",
]
