"""The inpainting page in a real browser: Debian's Chromium driven by Playwright.

    apt-get install -y chromium && pip install -e ".[dev]"     # once
    python -m pytest tests/test_app_browser.py                 # about 30 s
    MASKGIT_APP_SCREENSHOT=docs/app.png python -m pytest tests/test_app_browser.py   # also refresh the README's picture

Skipped, saying why, where Chromium, Playwright or Gradio is missing. The page serves the shipped model with
emoji test images (fetched with npm on first use, like `maskgit demo`).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the page needs Gradio: pip install -e '.[app]'")
playwright = pytest.importorskip("playwright.sync_api", reason="the test needs Playwright: pip install -e '.[dev]'")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install -y chromium; or set CHROMIUM)"
)
STROKE_ROW = 0.5  # the test draws one horizontal stroke at half the image's height ...
STROKE_FROM, STROKE_TO = 0.2, 0.8  # ... from 20% to 80% of its width


@pytest.fixture(scope="module")
def page_url():
    from maskgit.app.page import PageSetup, launch
    from maskgit.data.registry import load_images
    from maskgit.errors import DataError
    from maskgit.experiments.demo import SHIPPED_MODEL
    from maskgit.pipeline import MaskGIT

    model = MaskGIT.load(SHIPPED_MODEL)
    try:
        test = load_images("emoji", "test", 64, 3)
    except DataError as error:
        pytest.skip(f"the emoji test images are not available ({error})")
    shown = [0, 100, 200, 300]
    setup = PageSetup(model, SHIPPED_MODEL.name, test.images[shown], [test.names[i] for i in shown])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = launch(setup, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    served.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(page_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    tab = context.new_page()
    tab.goto(page_url)
    tab.wait_for_selector("#editor canvas", state="visible", timeout=30_000)
    playwright.expect(tab.locator("#editor button[aria-label='Brush']")).to_be_visible()
    for _ in range(60):  # until the editor has painted the first test image: a later image must not race it
        if painted(tab).mean() > 0.05:
            break
        tab.wait_for_timeout(250)
    yield tab
    context.close()


def upload(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(str(path))


def painted(page) -> np.ndarray:
    """(H, W) bool over the editor canvas's screenshot (device pixels): True where it is not white."""
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#editor canvas").first.screenshot())).convert("RGB"))
    mask = np.abs(shot.astype(int) - 255).sum(axis=2) > 60
    mask[:3], mask[-3:], mask[:, :3], mask[:, -3:] = False, False, False, False  # the canvas border
    return mask


def image_on_screen(page, size: int) -> tuple[float, float, float]:
    """(left, top, scale): where the editor draws the (enlarged, size x size) image, found as the block of the
    canvas screenshot that is not the canvas's white (the test's image has no white pixels). Waits for the
    editor to finish painting a new image."""
    box = page.locator("#editor canvas").first.bounding_box()
    for _ in range(60):
        shown = painted(page)
        ratio = shown.shape[1] / box["width"]
        rows = np.flatnonzero(shown.mean(axis=1) > 0.3)  # the toolbar and status text are narrower
        cols = np.flatnonzero(shown[rows].mean(axis=0) > 0.9) if len(rows) else rows
        if len(rows) > 20 and len(cols) > 20:
            scale = (cols[-1] + 1 - cols[0]) / ratio / size
            assert abs((rows[-1] + 1 - rows[0]) / ratio / size - scale) < 0.05 * scale, "the image is not square"
            return box["x"] + cols[0] / ratio, box["y"] + rows[0] / ratio, scale
        page.wait_for_timeout(250)
    raise AssertionError("the image never appeared in the editor")


def draw_stroke(page, where: tuple[float, float, float], size: int) -> None:
    left, top, scale = where
    y = top + STROKE_ROW * size * scale
    xs = [left + f * size * scale for f in np.linspace(STROKE_FROM, STROKE_TO, 4)]
    page.mouse.move(xs[0], y)
    page.mouse.down()
    for x in xs[1:]:
        page.mouse.move(x, y, steps=1)  # the brush joins the points with straight lines
    page.mouse.up()
    page.wait_for_timeout(300)


def downloaded(page) -> dict[str, np.ndarray]:
    links = page.locator("#download a[href]")
    playwright.expect(links).to_have_count(3, timeout=60_000)
    files = {}
    for i in range(3):
        href = links.nth(i).get_attribute("href")
        body = page.request.get(href).body()
        files[Path(href.split("?")[0]).name] = np.asarray(Image.open(io.BytesIO(body)))
    return files


def test_draw_a_mask_inpaint_and_the_result_changes_only_inside_and_beside_it(page, tmp_path):
    from maskgit.decoding.config import DecodeConfig
    from tests.conftest import untouched

    colourful = np.random.default_rng(0).integers(30, 220, (80, 100, 3), dtype=np.uint8)  # no white pixels
    Image.fromarray(colourful).save(tmp_path / "photo.png")
    upload(page, tmp_path / "photo.png")
    playwright.expect(page.locator("#note")).to_contain_text("100x80, center-cropped to 80x80 and resized to 64x64")
    page.wait_for_timeout(800)

    draw_stroke(page, image_on_screen(page, 256), 256)
    page.locator("#inpaint-btn").click()
    files = downloaded(page)

    image, mask, result = files["input.png"], files["mask.png"] == 0, files["result.png"]  # mask: black = missing
    assert image.shape == result.shape == (64, 64, 3) and mask.shape == (64, 64)
    rows, cols = np.nonzero(mask)
    assert mask.sum() > 40, "the stroke did not reach the mask"
    assert abs(rows.mean() - STROKE_ROW * 64) < 3, "the mask is not where the stroke was drawn"
    assert cols.min() < STROKE_FROM * 64 + 4 and cols.max() > STROKE_TO * 64 - 4, "the mask is shorter than the stroke"
    far = untouched(mask)
    assert np.array_equal(result[far], image[far]), "a known pixel beyond the blend's reach changed"
    assert (result[mask] != image[mask]).any(), "nothing was filled in"
    steps = page.locator("#steps img")
    playwright.expect(steps).to_have_count(DecodeConfig.preset("inpaint").total_steps, timeout=10_000)
    playwright.expect(page.locator("#telea img")).to_be_visible()
    playwright.expect(page.locator("#status")).to_contain_text("unknown tokens decoded")


def test_a_file_that_is_not_an_image_gets_a_message_on_the_page(page, tmp_path):
    (tmp_path / "notes.png").write_text("these are notes, not pixels")
    upload(page, tmp_path / "notes.png")
    playwright.expect(page.get_by_text("notes.png is not an image this page can read")).to_be_visible(timeout=15_000)


def test_a_benchmark_mask_on_a_test_image(page, tmp_path):
    """What the README shows: a test emoji, a large benchmark hole, the steps, Telea beside the result."""
    page.locator("#examples img").nth(1).click()
    playwright.expect(page.locator("#note")).to_contain_text("Test image")
    page.locator("#mask-choice input").click()
    page.get_by_role("option", name="large benchmark").click()
    playwright.expect(page.locator("#note")).to_contain_text("Mask: large benchmark #0, plus what you draw")
    page.wait_for_timeout(500)
    page.locator("#inpaint-btn").click()
    files = downloaded(page)
    assert (files["mask.png"] == 0).mean() > 0.2  # the large benchmark's first hole: 25-50% of the image
    page.wait_for_timeout(500)
    shot = Path(os.environ.get("MASKGIT_APP_SCREENSHOT") or tmp_path / "app.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_generate_from_scratch_shows_the_samples_and_the_steps_of_the_first(page):
    from maskgit.decoding.config import DecodeConfig

    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-btn").click()
    playwright.expect(page.locator("#samples img")).to_have_count(8, timeout=60_000)
    steps = DecodeConfig.preset("generate").total_steps
    playwright.expect(page.locator("#generate-steps img")).to_have_count(steps, timeout=10_000)
