"""Regenerate the screenshots in this folder: ``.venv/bin/python docs/_static/screenshots/make.py``.

Builds the example project's Sphinx (furo) and MkDocs (Material) sites into a
temporary folder and photographs the 10B-parameter page in headless Chromium,
light and dark, cropped to the content column, and the explorer on the BERT-base
page: one encoder layer opened, a layer found and its details shown. Uses the helpers of
``tests/test_browser.py``, so the pictures show exactly what the browser tests
check. Needs ``chromium`` on PATH; takes about half a minute.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "example_project")]

from test_browser import SITES, Page, build_sites, chromium, serve  # noqa: E402

#: the part of the page shown: the figure's column, from just above the page title
HEIGHT = 820
MARGIN = 32


def crop(page: Page, path: Path) -> None:
    page.js("scrollTo(0, 0)")
    page.settle()
    left, right, top = page.js(
        "(() => { const column = document.querySelector('figure.model-diagram')"
        ".parentElement.getBoundingClientRect();"
        " const title = document.querySelector('h1').getBoundingClientRect();"
        " return [column.left, column.right, title.top]; })()"
    )
    x, y = max(0, left - MARGIN), max(0, top - MARGIN)
    page.screenshot(path, clip={"x": x, "y": y, "width": right + MARGIN - x, "height": HEIGHT})


def explorer_crop(page: Page, path: Path) -> None:
    """The explorer's figure: breadcrumbs, find box, the view and the details line."""
    x, y, width, height = page.js(
        "(() => { const f = document.querySelector('#fig-bert'); f.scrollIntoView();"
        " const r = f.getBoundingClientRect();"
        " return [r.left + scrollX, r.top + scrollY, r.width, Math.min(r.height, 760)]; })()"
    )
    page.settle()
    clip = {"x": max(0, x - MARGIN), "y": max(0, y - MARGIN)}
    page.screenshot(path, clip={**clip, "width": width + 2 * MARGIN, "height": height + MARGIN})


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_sites(root)
        with serve(root) as url, chromium(root / "profile") as browser:
            for site, name in (("sphinx", "sphinx-furo"), ("mkdocs", "mkdocs-material")):
                page = browser.new_page()
                page.goto(f"{url}/{SITES[site]['huge']}")
                for theme in ("light", "dark"):
                    page.js(SITES[site][theme])
                    page.settle()
                    out = HERE / f"{name}-{theme}.png"
                    crop(page, out)
                    print(f"{out.relative_to(REPO)}: {out.stat().st_size // 1024} KB")  # noqa: T201
                assert page.errors == [], page.errors
                page.close()
            for site, name, theme in (("sphinx", "sphinx-furo", "light"),
                                      ("mkdocs", "mkdocs-material", "dark")):  # fmt: skip
                page = browser.new_page()
                page.goto(f"{url}/{SITES[site]['bert']}#fig-bert/encoder.layer.0")
                page.js(SITES[site][theme])
                page.wait_for("document.querySelector('#fig-bert').dataset.view")
                page.js(
                    "(() => { const i = document.querySelector("
                    "'#fig-bert .model-diagram-find-input');"
                    " i.value = 'intermediate.dense'; i.dispatchEvent(new Event('input'));"
                    " document.querySelector('#fig-bert .model-diagram-result').click(); })()"
                )
                page.wait_for("document.querySelector('#fig-bert .model-diagram-found')")
                page.settle()
                out = HERE / f"{name}-explorer-{theme}.png"
                explorer_crop(page, out)
                print(f"{out.relative_to(REPO)}: {out.stat().st_size // 1024} KB")  # noqa: T201
                assert page.errors == [], page.errors
                page.close()


if __name__ == "__main__":
    main()
