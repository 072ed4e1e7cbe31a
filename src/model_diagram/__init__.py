"""model-diagram: live PyTorch architecture diagrams in Sphinx and MkDocs docs.

Importing this package is cheap: torch is only imported where a model is
traced (the worker, or :func:`render` given a live model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import Diagram

__all__ = ["Diagram", "__version__", "render", "setup"]


def render(model_or_factory: Any, **options: Any) -> Diagram:
    """Draw a model; see :func:`model_diagram.api.render`."""
    from .api import render as _render

    return _render(model_or_factory, **options)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: ``extensions = ["model_diagram"]``."""
    from .sphinx_ext import setup as _setup

    return _setup(app)


def __getattr__(name: str) -> Any:
    if name == "Diagram":
        from .api import Diagram

        return Diagram
    raise AttributeError(name)
