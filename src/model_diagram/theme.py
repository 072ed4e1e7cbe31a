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
    # architecture diffs: a fill and an outline per status (the label's +/-/~ is the second cue)
    "--model-diagram-added-fill": ("#caf2d1", "#12442a"),
    "--model-diagram-added-ink": ("#1a7f37", "#56d364"),
    "--model-diagram-removed-fill": ("#ffdcd9", "#5b1e22"),
    "--model-diagram-removed-ink": ("#cf222e", "#ff7b72"),
    "--model-diagram-changed-fill": ("#fce7a6", "#4b3905"),
    "--model-diagram-changed-ink": ("#9a6700", "#e3b341"),
    "--model-diagram-unchanged-fill": ("#fafbfc", "#1e2328"),
}

#: which text colour sits on which fill (for contrast checks)
TEXT_ON = {
    "--model-diagram-module-fill": ("--model-diagram-ink", "--model-diagram-muted"),
    "--model-diagram-function-fill": ("--model-diagram-ink",),
    "--model-diagram-io-fill": ("--model-diagram-ink",),
    "--model-diagram-tensor-fill": ("--model-diagram-ink",),
    "--model-diagram-added-fill": ("--model-diagram-ink",),
    "--model-diagram-removed-fill": ("--model-diagram-ink",),
    "--model-diagram-changed-fill": ("--model-diagram-ink",),
    "--model-diagram-unchanged-fill": ("--model-diagram-muted",),
}


#: fill palettes of the figure styles, given to layer types in order of appearance:
#: ours (colour-blind safe: Okabe & Ito 2008; Paul Tol's "bright" and "light") and
#: VisualTorch 1.4's (so its ``palette=`` names work unchanged; ``_`` or ``-``)
PALETTES: dict[str, tuple[str, ...]] = {
    "okabe-ito": (
        "#e69f00",
        "#56b4e9",
        "#009e73",
        "#f0e442",
        "#0072b2",
        "#d55e00",
        "#cc79a7",
        "#999999",
    ),
    "tol-bright": ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"),
    "tol-light": (
        "#77aadd",
        "#ee8866",
        "#eedd88",
        "#ffaabb",
        "#99ddff",
        "#44bb99",
        "#bbcc33",
        "#aaaa00",
        "#dddddd",
    ),
    "tol-muted": (
        "#cc6677",
        "#332288",
        "#ddcc77",
        "#117733",
        "#88ccee",
        "#882255",
        "#44aa99",
        "#999933",
        "#aa4499",
    ),
    "tab10": (
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ),
    "grey": ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252"),
    "grayscale": ("#404040", "#595959", "#737373", "#8c8c8c", "#a6a6a6", "#bfbfbf", "#d9d9d9"),
    "nord": (
        "#bf616a",
        "#d08770",
        "#ebcb8b",
        "#a3be8c",
        "#b48ead",
        "#8fbcbb",
        "#88c0d0",
        "#81a1c1",
        "#5e81ac",
    ),
    "dracula": ("#ff5555", "#ffb86c", "#f1fa8c", "#50fa7b", "#8be9fd", "#bd93f9", "#ff79c6"),
    "gruvbox": ("#fb4934", "#b8bb26", "#fabd2f", "#83a598", "#d3869b", "#8ec07c", "#fe8019"),
    "solarized": (
        "#b58900",
        "#cb4b16",
        "#dc322f",
        "#d33682",
        "#6c71c4",
        "#268bd2",
        "#2aa198",
        "#859900",
    ),
    "material": (
        "#f44336",
        "#e91e63",
        "#9c27b0",
        "#3f51b5",
        "#2196f3",
        "#009688",
        "#4caf50",
        "#ffc107",
        "#ff5722",
    ),
    "catppuccin": (
        "#f38ba8",
        "#fab387",
        "#f9e2af",
        "#a6e3a1",
        "#94e2d5",
        "#89dceb",
        "#89b4fa",
        "#b4befe",
        "#cba6f7",
        "#f5c2e7",
    ),
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


def on_background(background: str, var: str) -> str:
    """The light or dark palette's value of ``var``, whichever contrasts more with
    ``background`` (a ``#rrggbb`` the figure paints itself, so the page theme cannot help)."""
    light_value, dark_value = PALETTE[var]
    return max((light_value, dark_value), key=lambda c: contrast(c, background))


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
