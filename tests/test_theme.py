"""Theme-aware SVG: literals map to CSS variables; both palettes meet WCAG AA."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import model_diagram
from model_diagram.html import stylesheet
from model_diagram.theme import PALETTE, TEXT_ON, contrast


@pytest.mark.parametrize("dark", [False, True])
def test_text_contrast_meets_wcag_aa(dark: bool) -> None:
    for fill, texts in TEXT_ON.items():
        for text in texts:
            ratio = contrast(PALETTE[fill][dark], PALETTE[text][dark])
            assert ratio >= 4.5, (fill, text, dark, ratio)


def test_svg_colours_are_variables_with_light_fallbacks(tmp_path: Path) -> None:
    diagram = model_diagram.render("models:make_mlp", input="float[2,8]", cache_dir=tmp_path)
    style = re.search(r"<style>(.*?)</style>", diagram.svg, re.S)
    assert style is not None
    used = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', diagram.svg))
    mapped = set(re.findall(r'\[(?:fill|stroke)="(#[0-9a-f]{6})"\]', style[1]))
    assert used <= mapped  # every colour the engine wrote can be themed
    assert "prefers-color-scheme" not in diagram.svg  # inline: the page decides
    saved = diagram.save(tmp_path / "m.svg").read_text()
    assert "@media (prefers-color-scheme: dark)" in saved  # a file follows its viewer


def test_page_css_switches_with_furo_pydata_and_material() -> None:
    css = stylesheet()
    for selector in (
        '[data-theme="dark"]',
        '[data-md-color-scheme="slate"]',
        '[data-theme="auto"]',
    ):
        assert selector in css
    assert "invert(" not in css
