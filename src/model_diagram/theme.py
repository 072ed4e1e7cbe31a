"""Theme-aware colours: one SVG that follows the page's light or dark theme.

Styles draw with the light palette's literal colours (both Graphviz engines
copy them verbatim into ``fill``/``stroke`` attributes). :func:`svg_style`
then maps each literal to a CSS custom property with the literal as its
fallback, so an SVG looks right on its own, and a page switches it by setting
the variables (see ``assets/model-diagram.css``). Restyle by setting, e.g.,
``--model-diagram-module-fill`` on ``.model-diagram-svg``.

Every text/fill pair meets WCAG AA (4.5:1) in both palettes; the tests
check the numbers.
"""

from __future__ import annotations

#: variable -> (light, dark). Light values are the literals the styles draw with.
PALETTE: dict[str, tuple[str, str]] = {
    "--model-diagram-ink": ("#1b1f23", "#e6edf3"),
    "--model-diagram-muted": ("#4a5159", "#b7c0ca"),
    "--model-diagram-module-fill": ("#d8f0d4", "#1d3b27"),
    "--model-diagram-function-fill": ("#dbe9f7", "#1b3350"),
    "--model-diagram-io-fill": ("#fdf3c4", "#4a3d0c"),
    "--model-diagram-tensor-fill": ("#f3f3f3", "#2d3339"),
}

#: which text colour sits on which fill (for contrast checks)
TEXT_ON = {
    "--model-diagram-module-fill": ("--model-diagram-ink", "--model-diagram-muted"),
    "--model-diagram-function-fill": ("--model-diagram-ink",),
    "--model-diagram-io-fill": ("--model-diagram-ink",),
    "--model-diagram-tensor-fill": ("--model-diagram-ink",),
}


def light(var: str) -> str:
    return PALETTE[var][0]


def variables(dark: bool) -> str:
    """Declarations setting every variable to its light or dark value."""
    return ";".join(f"{var}:{pair[1] if dark else pair[0]}" for var, pair in PALETTE.items())


def svg_style() -> str:
    """The ``<style>`` body carried inside each SVG: literals -> variables.

    Inline SVGs follow the page (the page stylesheet sets the variables);
    standalone files add :func:`dark_media_rule`.
    """
    return "".join(
        f'.model-diagram-svg [{prop}="{literal}"]{{{prop}:var({var},{literal})}}'
        for var, (literal, _) in PALETTE.items()
        for prop in ("fill", "stroke")
    )


def dark_media_rule() -> str:
    """Dark values when the viewer prefers dark (standalone files and ``<img>`` only:
    inline, the page's own theme decides)."""
    return "@media (prefers-color-scheme: dark){.model-diagram-svg{" + variables(True) + "}}"


def relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def page_css() -> str:
    """Page rules that switch inline SVGs to dark with the site's theme.

    furo and pydata-sphinx-theme set ``data-theme="dark"``, Material sets
    ``data-md-color-scheme="slate"``; furo's ``auto`` follows the OS. Themes
    without a dark mode keep the light palette whatever the OS prefers.
    """
    dark = variables(True)
    return (
        f'[data-theme="dark"] .model-diagram-svg,'
        f'[data-md-color-scheme="slate"] .model-diagram-svg{{{dark}}}\n'
        f'@media (prefers-color-scheme: dark){{[data-theme="auto"] .model-diagram-svg{{{dark}}}}}\n'
    )
