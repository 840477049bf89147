"""The package surface: lazy top-level API, and a CLI whose --help does not load torch."""

from __future__ import annotations

import subprocess
import sys


def test_import_and_help_do_not_load_torch():
    code = (
        "import sys, latentmorph, latentmorph.cli as c\n"
        "parser = c.build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(latentmorph.__version__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0.1.0"


def test_top_level_names_resolve_to_the_api():
    import latentmorph as lm
    from latentmorph import api

    assert lm.encode is api.encode and lm.build_index is api.build_index
    assert set(api.__all__) <= set(dir(lm))
    # the packages that share their function's name forward calls to it
    assert callable(lm.transfer) and callable(lm.evaluate)
    import numpy as np

    x = np.sin(np.linspace(0, 2000, 22050)).astype(np.float32) * 0.3
    assert lm.evaluate(x, 22050, x, 22050)["content"]["loudness"]["value"] > 0.99
    import latentmorph.evaluate.features as features

    assert features.__name__ == "latentmorph.evaluate.features"
    try:
        lm.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:  # pragma: no cover
        raise AssertionError("unknown names must raise AttributeError")
