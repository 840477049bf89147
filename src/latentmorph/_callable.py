"""Packages that can be called like their main function.

``latentmorph.transfer`` and ``latentmorph.evaluate`` are packages (``transfer.match``,
``evaluate.features``...) *and* the names users call: ``lm.transfer(wave, sr, ...)``.
Python binds a subpackage as an attribute of its parent once imported, which would
shadow a function of the same name, so the package itself forwards calls.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable


def make_callable(module_name: str, func: Callable[..., Any]) -> None:
    """Let ``sys.modules[module_name](...)`` call ``func`` (with its docstring)."""

    class _CallablePackage(types.ModuleType):
        __call__ = staticmethod(func)

    module = sys.modules[module_name]
    module.__class__ = _CallablePackage
