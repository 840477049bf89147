"""The one place the benchmarks touch the transfer engine and the corpus index.

They are written on other branches; if their interface moves, only this file changes.
``available()`` says whether they are installed; the benches skip their part with
``why_not()`` when not.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

#: The reference workflow expressed as transfer options (transfer issue).
REFERENCE_OPTIONS: dict[str, Any] = {
    "mode": "nearest",
    "render": "decode",
    "follow_loudness": False,
    "wet": 0.8,
    "continuity": 0,
}
try:  # the engine's own preset, when it has one
    from latentmorph.transfer.engine import PRESETS as _PRESETS

    REFERENCE_OPTIONS = dict(_PRESETS.get("reference", REFERENCE_OPTIONS))
except ImportError:
    pass


def why_not() -> str | None:
    """``None`` when transfer and the corpus index can be used, else the reason."""
    try:
        import latentmorph
        from latentmorph.corpus import build_index  # noqa: F401
    except Exception as err:  # ImportError, or a half-merged package
        return f"latentmorph.corpus.build_index: {err}"
    if not callable(getattr(latentmorph, "transfer", None)):
        try:
            from latentmorph.transfer import transfer  # noqa: F401
        except Exception as err:
            return f"latentmorph.transfer: {err}"
    return None


def available() -> bool:
    return why_not() is None


def _transfer_fn():  # noqa: ANN202
    import latentmorph

    fn = getattr(latentmorph, "transfer", None)
    if callable(fn):
        return fn
    from latentmorph.transfer import transfer

    return transfer


def build_index(paths: list[Path], output: Path, codec: Any) -> Any:
    """Build (or update) an index of ``paths`` at ``output``; returns the ``CorpusIndex``."""
    from latentmorph.corpus import build_index as build

    from latentmorph.corpus import load_index

    build([str(p) for p in paths], str(output), codec, progress=False)
    return load_index(output, codec)  # bound to this codec instance (the bench may have patched it)


def run_transfer(source: np.ndarray, sr: int, index: Any, **options: Any) -> tuple[np.ndarray, int, Any]:
    """``latentmorph.transfer`` with a report: ``(out [channels, samples], out_sr, report)``."""
    result = _transfer_fn()(source, sr, index=index, return_report=True, **options)
    if len(result) == 3:
        out, out_sr, report = result
    else:  # ((out, sr), report)
        (out, out_sr), report = result
    return np.asarray(out), int(out_sr), report


def _find(obj: Any, names: tuple[str, ...], depth: int = 0) -> Any:
    if obj is None or depth > 4:
        return None
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if not isinstance(obj, dict) and hasattr(obj, name):
            return getattr(obj, name)
    children = obj.values() if isinstance(obj, dict) else (getattr(obj, "__dict__", {}) or {}).values()
    if isinstance(obj, (list, tuple)) and obj:
        children = [obj[0]]  # first channel
    for child in children:
        if isinstance(child, (dict, list, tuple)) or hasattr(child, "__dict__"):
            found = _find(child, names, depth + 1)
            if found is not None:
                return found
    return None


def chosen_ids(report: Any) -> np.ndarray | None:
    """Main grain id per source frame of the first channel (``[T]`` int64), or ``None``."""
    found = _find(report, ("grain_ids", "ids", "choices"))
    if found is None:
        return None
    if hasattr(found, "ids"):  # a Choices object
        found = found.ids
    if isinstance(found, (list, tuple)) and found and hasattr(found[0], "ids"):
        found = found[0].ids
    ids = np.asarray(found)
    if ids.dtype == object:
        return None
    while ids.ndim > 2:  # [channels, frames, k]
        ids = ids[0]
    if ids.ndim == 2:
        ids = ids[:, 0]
    return ids.astype(np.int64)


def grain_where(index: Any) -> np.ndarray:
    """``[N, 3]`` (file, channel, frame) per grain, with augmentation folded into the file id."""
    g = index.grains
    aug = np.asarray(getattr(g, "aug", np.zeros(len(g.file_id))), dtype=np.int64)
    file_key = np.asarray(g.file_id, dtype=np.int64) * 1000 + aug
    return np.stack([file_key, np.asarray(g.channel, dtype=np.int64), np.asarray(g.frame, dtype=np.int64)], axis=1)


class StageTimer:
    """Times the stages of calls made inside :meth:`patch`: codec encode/decode, search, match.

    Functions are patched for the duration (outermost calls only, so a search that calls
    another search counts once). ``times`` holds seconds per stage: ``encode``,
    ``decode``, ``search`` (exact top-k), ``match`` (nearest/soft/sample/Viterbi).
    """

    def __init__(self) -> None:
        self.times = {"encode": 0.0, "decode": 0.0, "search": 0.0, "match": 0.0}
        self._depth = {k: 0 for k in self.times}

    def _wrap(self, fn: Any, stage: str) -> Any:
        timer = self

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if timer._depth[stage]:
                return fn(*args, **kwargs)
            timer._depth[stage] += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timer.times[stage] += time.perf_counter() - t
                timer._depth[stage] -= 1

        return wrapped

    #: (module, function, stage) patched besides the codec's ``encode``/``decode``: the
    #: engine's module globals and the matchers the registry's runners call.
    TARGETS: tuple[tuple[str, str, str], ...] = (
        ("latentmorph.transfer.engine", "candidates", "search"),
        *(("latentmorph.transfer.match", name, "match") for name in ("nearest", "soft", "sample", "viterbi")),
    )

    @contextlib.contextmanager
    def patch(self, codec: Any) -> Iterator["StageTimer"]:
        """Patch ``codec`` (the instance: its ``encode``/``decode``) and the transfer engine's stages."""
        import importlib

        saved: list[tuple[Any, str, Any, bool]] = []

        def patch_attr(owner: Any, name: str, stage: str) -> None:
            had_own = name in getattr(owner, "__dict__", {})
            fn = getattr(owner, name, None)
            if fn is None or stage not in self.times:
                return
            saved.append((owner, name, fn, had_own))
            setattr(owner, name, self._wrap(fn, stage))

        patch_attr(codec, "encode", "encode")
        patch_attr(codec, "decode", "decode")
        for mod_name, name, stage in self.TARGETS:
            with contextlib.suppress(ImportError):
                patch_attr(importlib.import_module(mod_name), name, stage)
        try:
            yield self
        finally:
            for owner, name, fn, had_own in reversed(saved):
                if had_own:
                    setattr(owner, name, fn)
                else:
                    delattr(owner, name)  # we shadowed a class method on the instance: remove ours


def timed_transfer(source: np.ndarray, sr: int, index: Any, codec: Any) -> dict:
    """Run the default transfer once; seconds per stage (``render`` = what the others leave)."""
    timer = StageTimer()
    with timer.patch(codec):
        t = time.perf_counter()
        run_transfer(source, sr, index)
        total = time.perf_counter() - t
    st = timer.times
    return {**st, "render": total - st["encode"] - st["search"] - st["match"], "total": total}
