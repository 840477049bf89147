"""The web studio in headless Chromium (Playwright): upload, transfer, listen, click the map.

Debian's ``chromium`` is used (Playwright cannot download its own browser here); the test
skips, saying why, where it or Playwright is missing. ``scripts/test`` installs Chromium
when it runs as root with apt-get. With ``LATENTMORPH_UI_SCREENSHOTS=DIR`` the test also
writes the screenshots shown in docs/ui.md.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="the web studio needs gradio: pip install 'latentmorph[ui]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright: pip install playwright")

from latentmorph import api  # noqa: E402
from latentmorph.ui.server import start  # noqa: E402


def _chromium() -> str | None:
    for name in (os.environ.get("LATENTMORPH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if name and Path(name).is_file():
            return name
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not found (apt-get install chromium; scripts/test does it as root)")


def _shot(page, name: str, tmp_path: Path) -> Path:
    """Full-page PNG in tmp_path; with LATENTMORPH_UI_SCREENSHOTS also a small copy there."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("LATENTMORPH_UI_SCREENSHOTS")
    if folder:
        from PIL import Image

        Path(folder).mkdir(parents=True, exist_ok=True)
        img = Image.open(path).convert("RGB")
        img = img.resize((img.width * 2 // 3, img.height * 2 // 3), Image.LANCZOS)
        img.quantize(colors=128).save(Path(folder) / f"{name}.png", optimize=True)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("browser-root")
    for name in ("water_ufoai.flac", "wind_ufoai.flac"):
        shutil.copy(data_dir / name, root / name)
    api.build_index([root / "water_ufoai.flac", root / "wind_ufoai.flac"], root / "weather.lmindex", progress=False)
    running = start([root], port=0, quiet=True, model=os.environ.get("LATENTMORPH_UI_MODEL") or None)
    yield running
    running.close()


def test_upload_transfer_listen_and_click_the_map(server, data_dir, tmp_path):
    host = urlparse(server.url).netloc
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server.url)
            page.wait_for_selector("#run-transfer", timeout=60_000)
            # the corpus dropdown is filled on load with the index found under the root
            page.wait_for_function("document.querySelector('#corpus-pick input').value === 'weather.lmindex'", timeout=30_000)
            with page.expect_response(lambda r: "/gradio_api/upload" in r.url, timeout=60_000):
                page.locator("#source-audio input[type=file]").set_input_files(str(data_dir / "speech_codec2.flac"))
            # the uploaded source is shown as a 5 s waveform before we run
            page.wait_for_function("document.querySelector('#source-audio #duration')?.innerText === '0:05'", timeout=60_000)
            page.click("#run-transfer")
            page.wait_for_function(
                "document.querySelector('#transfer-status')?.innerText.startsWith('done:') || document.querySelector('.toast-body')",
                timeout=180_000)
            toast = page.locator(".toast-body")
            assert not toast.count(), f"the page showed an error: {toast.first.inner_text()}"
            assert "5.00 s at 16000 Hz" in page.inner_text("#transfer-status")
            # the output player: a 5 s waveform whose file comes from our server
            page.wait_for_function("document.querySelector('#output-audio #duration')?.innerText === '0:05'", timeout=30_000)
            href = page.get_attribute("#output-audio a.download-link", "href")
            assert href and urlparse(href).netloc == host and href.endswith("-morph.wav")
            body = page.request.get(href).body()
            info = sf.info(io.BytesIO(body))
            assert info.samplerate == 16000 and info.frames == 80000
            shot = _shot(page, "transfer", tmp_path)
            assert shot.stat().st_size > 20_000

            page.get_by_role("tab", name="Corpus map").click()
            page.click("#draw-map")
            page.wait_for_selector("#corpus-map img", timeout=30_000)
            page.wait_for_function("document.body.innerText.includes('grains from 2 file(s)')", timeout=30_000)
            page.locator("#corpus-map img").click(position={"x": 200, "y": 200})
            page.wait_for_function("document.body.innerText.match(/grain \\d+: \\S+ at /)", timeout=30_000)
            _shot(page, "map", tmp_path)
            if page.get_by_role("tab", name="Diffusion").count():
                page.get_by_role("tab", name="Diffusion").click()
                page.get_by_role("button", name="Draw timbre map").click()
                page.wait_for_selector("#timbre-map img", timeout=120_000)
                page.locator("#timbre-map img").click(position={"x": 150, "y": 150})
                page.wait_for_function("/^-?[0-9.]+, -?[0-9.]+$/.test(document.querySelector('#timbre-point textarea, #timbre-point input')?.value || '')",
                                       timeout=30_000)
                _shot(page, "diffusion", tmp_path)
        finally:
            browser.close()
    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != host]
    assert requests and foreign == [], f"the page fetched from outside the server: {foreign[:5]}"
