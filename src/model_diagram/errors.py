"""Error types shared by every front end.

Each error carries a ``kind`` that front ends turn into a typed warning
(``model_diagram.<kind>``), so users can silence one kind with
``suppress_warnings`` and ``-W`` / ``--strict`` fail on any of them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: C0 controls but tab and newline, DEL and the C1 controls: what a message (a model's
#: exception, a worker's reply, a cache entry) must not write to a terminal
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

KINDS = ("option", "import", "input", "trace", "render", "cache")


class DiagramError(Exception):
    """Base class: a diagram could not be produced; the message says why and what to do."""

    kind = "trace"

    def __init__(self, message: str, *, detail: str = "", cacheable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        #: longer text (the user's traceback) shown in placeholders and debug logs
        self.detail = detail
        #: the same inputs fail the same way, and what the failure depends on is known:
        #: false for a module that cannot be found or raised while importing (a new file
        #: or package would fix it and the manifest cannot list it)
        self.cacheable = cacheable
        #: (project files, distributions) the failed job loaded, set by the worker for a
        #: failure the child reported; timeouts and crashes never have them, so they are
        #: never cached
        self.dependencies: tuple[dict[str, str], dict[str, str]] | None = None

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "detail": self.detail}

    @staticmethod
    def from_dict(data: dict[str, str]) -> DiagramError:
        """Rebuild an error sent across the worker pipe or kept in the cache (both
        untrusted: control characters dropped), keeping its kind."""
        cls = _BY_KIND.get(data.get("kind", "trace"), TraceError)
        message, detail = str(data.get("message", "unknown error")), str(data.get("detail", ""))
        return cls(_CONTROLS.sub("", message), detail=_CONTROLS.sub("", detail))


class OptionError(DiagramError, ValueError):
    """An unknown option or a value the schema does not accept."""

    kind = "option"


class FactoryError(DiagramError):
    """The factory cannot be imported, raises, or does not give an ``nn.Module``."""

    kind = "import"


class InputError(DiagramError, ValueError):
    """A malformed tensor spec, a bad dtype or dims, or inputs that cannot be built."""

    kind = "input"


class TraceError(DiagramError):
    """The model's forward pass failed, hung past the timeout, or crashed the worker."""

    kind = "trace"


class RenderError(DiagramError):
    """Graphviz failed or the requested format is not available from the engine."""

    kind = "render"


class CacheError(DiagramError):
    """The cache directory cannot be used (for example, it is not writable)."""

    kind = "cache"


_BY_KIND: dict[str, type[DiagramError]] = {
    cls.kind: cls
    for cls in (OptionError, FactoryError, InputError, TraceError, RenderError, CacheError)
}


def error_text(
    error: DiagramError, *, where: str = "", factory: str = "", typed: bool = True
) -> str:
    """The one wording of a problem in a log: ``model-diagram: WHERE: FACTORY: message
    [model_diagram.KIND]`` (the factory only when the message does not name it; Sphinx
    adds the location and type itself, so it asks for neither), on lines of its own."""
    text = error.message if factory in error.message else f"{factory}: {error.message}"
    # no escape sequences, and every further line indented: a message cannot forge a
    # log record of its own
    text = _CONTROLS.sub("", text).replace("\n", "\n    ")
    head = f"model-diagram: {where}: " if where else "model-diagram: "
    return head + text + (f" [model_diagram.{error.kind}]" if typed else "")


@contextlib.contextmanager
def reported_as_bug() -> Iterator[None]:
    """Turn an unexpected exception (a bug of ours) into one :class:`DiagramError`.

    The front ends then show one placeholder and a located warning, not a lost
    build; the traceback goes to the debug log.
    """
    try:
        yield
    except DiagramError:
        raise
    except Exception as exc:
        log.debug("model-diagram: unexpected error", exc_info=True)
        raise DiagramError(
            f"unexpected {type(exc).__name__}: {exc} (please report this model-diagram bug)"
        ) from None
