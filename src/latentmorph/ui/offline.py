"""A page that loads nothing from the internet.

Gradio's page template asks the browser for a script from a CDN (iframe-resizer, only
useful when the app is embedded in another site) and pre-connects to a font service.
:func:`use_offline_page` gives Gradio's template loader a copy of the template without
those tags, so every request the page makes goes to our own server. Everything else of
the frontend (scripts, styles, fonts) is served by Gradio from the installed package.
"""

from __future__ import annotations

import re

#: The template Gradio renders for the app page.
PAGE = "frontend/index.html"

# <script src="http..."></script> and <link ... href="http..."> (rel preconnect / stylesheet), across lines
_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*\"https?://[^\"]*\"[^>]*>\s*</script>", re.S | re.I)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*\"https?://[^\"]*\"[^>]*/?>", re.S | re.I)


def strip_remote(html: str) -> str:
    """``html`` without ``<script src=http...>`` and ``<link href=http...>`` tags."""
    return _REMOTE_LINK.sub("", _REMOTE_SCRIPT.sub("", html))


def remote_references(html: str) -> list[str]:
    """URLs a browser would fetch from ``html`` (scripts and links; ``<meta>`` text is not fetched)."""
    return [m.group(0) for m in _REMOTE_SCRIPT.finditer(html)] + [m.group(0) for m in _REMOTE_LINK.finditer(html)]


def use_offline_page() -> None:
    """Serve Gradio's app page without its remote tags (idempotent; process-wide)."""
    import jinja2
    from gradio import routes

    env = routes.templates.env
    if getattr(env, "_latentmorph_offline", False):
        return
    loader = env.loader
    assert loader is not None, "gradio's template environment has a loader"
    source, _, _ = loader.get_source(env, PAGE)
    env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({PAGE: strip_remote(source)}), loader])
    env.cache.clear() if env.cache is not None else None
    env._latentmorph_offline = True  # type: ignore[attr-defined]


__all__ = ["PAGE", "remote_references", "strip_remote", "use_offline_page"]
