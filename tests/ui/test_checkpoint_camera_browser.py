"""Scan with camera, in a real browser (headless Chromium): its fake camera shows a pass's QR,
the vendored qr-scanner reads it (in the worker served from this server: Chromium on Linux has no
BarcodeDetector), the form is filled and submitted, and the verdict is shown — under the pages'
CSP (a Blob-URL worker or a remote script would be refused). R4."""
from __future__ import annotations

import shutil
import threading
import time

import pytest

from cases.codes import to_qr_text
from cases.codes.qr import qr_matrix
from tests.conftest import _free_port
from tests.verify_support import green_pass

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
W, H = 1280, 960


def y4m_showing(text: str, path) -> None:
    """A one-frame Y4M video (what Chromium's fake camera plays in a loop) of the QR code."""
    matrix = qr_matrix(text)
    module = min(W, H) * 2 // 3 // (len(matrix) + 8)  # inside qr-scanner's default scan region
    side = module * len(matrix)
    x0, y0 = (W - side) // 2, (H - side) // 2
    luma = bytearray(b"\xff" * (W * H))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for y in range(y0 + r * module, y0 + (r + 1) * module):
                    luma[y * W + x0 + c * module: y * W + x0 + (c + 1) * module] = b"\x00" * module
    chroma = b"\x80" * (W * H // 4)
    path.write_bytes(f"YUV4MPEG2 W{W} H{H} F5:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + bytes(luma) + chroma + chroma)


@pytest.fixture
def server(api):
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r4_scan_with_camera_fills_the_form_and_shows_the_verdict(api, seeded, clock, server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    green = green_pass(api, seeded, clock)
    video = tmp_path / "qr.y4m"
    y4m_showing(to_qr_text(green["token"]), video)
    args = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page()
            refused = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{server}/checkpoint")
            button = page.locator("#camera-start")
            assert button.is_visible()  # shown by checkpoint.js: JS and getUserMedia are there
            page.fill("#temperature", "36.5")
            button.click()
            page.wait_for_selector(".verdict", timeout=60_000)
            assert "verdict-pass" in page.content() and "王*" in page.inner_text("main")
            assert refused == []
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_without_javascript_there_is_no_camera_button_and_the_form_still_verifies(api, seeded, clock, server):
    playwright = pytest.importorskip("playwright.sync_api")
    green = green_pass(api, seeded, clock)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{server}/checkpoint")
            assert not page.locator("#camera-start").is_visible()
            page.fill("#qr", to_qr_text(green["token"]))
            page.fill("#temperature", "36.5")
            page.click("button[type=submit].big")
            page.wait_for_selector(".verdict")
            assert "verdict-pass" in page.content()
        finally:
            browser.close()
