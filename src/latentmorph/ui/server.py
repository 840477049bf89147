"""Starting the studio: offline settings, the queue, loopback binding, cleanup.

:func:`serve` is what ``latentmorph ui`` runs; :func:`start` is the same without blocking
(tests, the benchmark) and returns a :class:`Running` server to ``close()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from latentmorph.errors import LatentmorphError
from latentmorph.ui.jobs import Limits, TempSpace
from latentmorph.ui.roots import Roots

#: Hosts that keep the server on this machine.
LOOPBACK = ("127.0.0.1", "localhost", "::1")

INSTALL_HINT = "the web studio needs gradio: pip install 'latentmorph[ui]'"


def require_gradio():  # noqa: ANN201
    """Import gradio with analytics off; a one-line install hint when it is missing."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    try:
        import gradio  # noqa: PLC0415
        # gradio.routes reads GRADIO_TEMP_DIR once, at import (for a folder it recreates at every
        # launch): import it before a server points that variable at its own temp folder, which
        # is removed when that server stops.
        import gradio.routes  # noqa: F401, PLC0415
    except ImportError:
        raise LatentmorphError(INSTALL_HINT) from None
    return gradio


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (for tests and benchmarks)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A started server: its URL, the Blocks app, the studio state."""

    url: str
    app: Any
    studio: Any
    previous_temp: str | None = None

    def close(self) -> None:
        """Stop the server, remove its temporary files, restore ``GRADIO_TEMP_DIR``."""
        try:
            self.app.close()
        finally:
            self.studio.close()
            if os.environ.get("GRADIO_TEMP_DIR") == str(self.studio.temp.uploads):
                _restore(self.previous_temp)


def start(roots: Sequence[str | os.PathLike] = (), *, host: str = "127.0.0.1", port: int = 7860,
          model: str | os.PathLike | None = None, clap: str | os.PathLike | None = None,
          limits: Limits | None = None, block: bool = False,
          quiet: bool = False) -> Running:
    """Build and launch the studio.

    Args:
        roots: folders whose files may be listed and read (default: the current folder).
        host: interface to bind; loopback by default. Anything else is the operator's choice.
        port: TCP port (0 = a free one).
        model: a ``.lmdiff`` diffusion model (the Diffusion tab).
        clap: a local CLAP folder for text prompts in the Diffusion tab.
        limits: upload/duration/concurrency limits.
        block: serve until interrupted (``latentmorph ui``), then clean up.
    """
    require_gradio()
    from latentmorph.ui.app import _log_to_stderr, build_app
    from latentmorph.ui.offline import use_offline_page
    from latentmorph.ui.studio import Studio

    limits = limits or Limits()
    port = int(port) or free_port(host)
    served = Roots.of(roots or ["."])
    if model is not None and not os.path.exists(model):
        raise LatentmorphError(f"{model}: model file not found")
    if block:
        _stop_on_sigterm()
    temp = TempSpace()
    previous_temp = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(temp.uploads)
    studio = Studio(served, limits, temp, model=str(model) if model else None)
    studio.clap = str(clap) if clap else None
    _log_to_stderr()
    use_offline_page()
    demo = None
    try:
        demo = build_app(studio)
        demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
        demo.launch(server_name=host, server_port=port, share=False, inbrowser=False,
                    prevent_thread_lock=True, show_error=False, quiet=quiet, ssr_mode=False,
                    max_file_size=f"{int(limits.max_upload_mb * 1024 * 1024)}b", show_api=True,
                    allowed_paths=[], favicon_path=None)
        running = Running(demo.local_url, demo, studio, previous_temp)
        if block:
            demo.block_thread()  # returns after Ctrl-C / SIGTERM, the server closed
    except OSError as err:
        studio.close()
        _restore(previous_temp)
        raise LatentmorphError(f"cannot start the server on {host}:{port} ({err})") from None
    except BaseException:
        if demo is not None:
            demo.close()
        studio.close()
        _restore(previous_temp)
        raise
    if block:
        running.close()
    return running


def _restore(previous_temp: str | None) -> None:
    if previous_temp is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = previous_temp


def _stop_on_sigterm() -> None:
    """Make SIGTERM stop the server like Ctrl-C does (so the temp folder is removed)."""
    import signal
    import threading

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)


__all__ = ["INSTALL_HINT", "LOOPBACK", "Running", "free_port", "require_gradio", "start"]
