"""``latentmorph live``: the real-time engine on a sound card (sounddevice / PortAudio)."""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

from latentmorph.cli.stream import add_stream_options
from latentmorph.cli.common import number

INSTALL = "pip install 'latentmorph[live]'"

DESCRIPTION = f"""\
Play the real-time latent granular engine live: input device in, output device out,
at 44.1 kHz (the corpus rate), in blocks of --block samples. Stop with Ctrl-C.
Needs the `live` extra ({INSTALL}) and the PortAudio library
(Debian/Ubuntu: apt install libportaudio2; macOS and Windows wheels bundle it).

examples:
  latentmorph live --list-devices
  latentmorph live --index rain.lmindex
  latentmorph live --index rain.lmindex --input-device 2 --output-device 3 --block 128
  latentmorph live --index bells.lmindex --wet 0.6 --continuity 3 --seconds 60
"""


def load_sounddevice() -> Any:
    """Import sounddevice, or raise a one-line error naming what to install."""
    from latentmorph.errors import LatentmorphError

    try:
        import sounddevice
    except ImportError:
        raise LatentmorphError(f"live audio needs sounddevice: {INSTALL}") from None
    except OSError as err:  # sounddevice is there, the PortAudio library is not
        raise LatentmorphError(f"live audio: the PortAudio library is missing ({err}); "
                               "install it (Debian/Ubuntu: apt install libportaudio2)") from None
    return sounddevice


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="run the real-time engine on an audio device (needs the live extra)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list-devices", action="store_true", help="print the audio devices and exit")
    p.add_argument("--input-device", metavar="D", help="input device number or name (default: the system's)")
    p.add_argument("--output-device", metavar="D", help="output device number or name (default: the system's)")
    p.add_argument("--block", type=number("block"), default=256, metavar="N", help="samples per audio callback (default 256)")
    p.add_argument("--channels", type=number("channels"), default=1, help="input/output channels (default 1)")
    p.add_argument("--seconds", type=number("live_seconds"), metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    add_stream_options(p)
    for action in p._actions:  # --index is only needed when not listing devices
        if action.dest == "index":
            action.required = False
    p.set_defaults(func=run)


def _device(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.strip().lstrip("-").isdigit() else value


def make_callback(streamer, stats: dict[str, int]) -> Callable:  # noqa: ANN001
    """The PortAudio callback: ``indata [frames, C]`` -> ``outdata [frames, C]`` through ``streamer``.

    ``stats`` counts ``blocks`` and ``xruns`` (callbacks that reported an over/underflow).
    """

    def callback(indata, outdata, frames, time_info, status) -> None:  # noqa: ANN001
        if status:
            stats["xruns"] = stats.get("xruns", 0) + 1
        outdata[:] = streamer.process(indata[:frames].T).T
        stats["blocks"] = stats.get("blocks", 0) + 1

    return callback


def run(args: argparse.Namespace) -> int:
    from latentmorph.cli.stream import one_thread

    return one_thread(_run, args)


def _run(args: argparse.Namespace) -> int:
    from latentmorph.errors import AudioError, LatentmorphError

    sd = load_sounddevice()
    portaudio_error = getattr(sd, "PortAudioError", OSError)
    if args.list_devices:
        try:
            print(sd.query_devices())
        except portaudio_error as err:
            raise AudioError(f"audio devices: {err}") from None
        return 0
    if not args.index:
        raise LatentmorphError("live: give --index NAME.lmindex (or --list-devices)")
    if args.block < 1 or args.channels < 1:
        raise AudioError("live: --block and --channels must be 1 or more")
    from latentmorph.cli.stream import streamer_from_args

    s = streamer_from_args(args, channels=args.channels)
    s.warm_up()  # the first TorchScript calls are slow: not inside the audio callback
    stats = {"blocks": 0, "xruns": 0}
    device = (_device(args.input_device), _device(args.output_device))
    print(f"live: {s.sample_rate} Hz, block {args.block}, latency {s.latency} samples "
          f"({s.latency / s.sample_rate * 1e3:.1f} ms) + the device's; Ctrl-C stops")
    try:
        with sd.Stream(samplerate=s.sample_rate, blocksize=args.block, device=device, channels=args.channels,
                       dtype="float32", callback=make_callback(s, stats)):
            start = time.monotonic()
            while args.seconds is None or time.monotonic() - start < args.seconds:
                time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    except (portaudio_error, ValueError) as err:
        raise AudioError(f"audio device {device}: {err}") from None
    print(f"live: {stats['blocks']} blocks, {stats['xruns']} over/underruns")
    return 0


__all__ = ["add_parser", "load_sounddevice", "make_callback", "run"]
