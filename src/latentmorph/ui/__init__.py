"""The web studio (``latentmorph ui``): a Gradio page over the Python API.

Modules, one concept each:

- ``roots.py``         safe file access: only files under the ``--root`` folders
- ``jobs.py``          limits (upload size, duration, concurrency, queue) and temp files
- ``options.py``       every transfer option as a control, presets
- ``studio.py``        what the buttons do (corpora, transfers, grains), without the page
- ``corpus_map.py``    the 2-D map of grains and the path an output took through it
- ``images.py``        spectrogram pictures (numpy only)
- ``diffusion_tab.py`` the Diffusion tab over ``latentmorph.diffusion`` (lazy)
- ``app.py``           the page layout and wiring (Gradio Blocks)
- ``server.py``        starting it: offline settings, queue, loopback, cleanup

Gradio is an optional extra (``pip install 'latentmorph[ui]'``); nothing here imports it
at module level except ``app.py``/``diffusion_tab.py`` inside their functions.
"""

from latentmorph.ui.jobs import Limits, TempSpace, check_upload
from latentmorph.ui.roots import RootError, Roots

__all__ = ["Limits", "RootError", "Roots", "TempSpace", "check_upload"]
