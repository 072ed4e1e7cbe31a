"""The Python API: ``render(model_or_factory, **options) -> Diagram``.

A factory path (``"pkg.module:attr"``) goes through the worker and the cache
like a docs build. A live ``nn.Module`` (or a callable returning one) is
traced in this process, because a notebook user has imported torch already;
the instance is never moved or left in another mode.

Torch-RecHub's ``visualize_model`` keywords work with the same meaning:
``input_data`` (a dict is ONE positional argument), ``batch_size``,
``seq_length``, ``depth``, ``show_shapes``, ``expand_nested``, ``save_path``,
``graph_name``, ``device``, ``dpi``.
Without inputs, the providers of :mod:`model_diagram.providers` guess them,
as in a docs build: ``render(deepfm_model, depth=4)`` just works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import snapshot
from .cache import StoredGraph
from .errors import OptionError
from .explorer import is_html, notebook_html, standalone_html
from .layergraph import LayerGraph
from .options import DiagramOptions, format_of, parse_options
from .pipeline import Pipeline, Result, Views, trace_options
from .rendering import standalone_svg
from .sanitize import sanitize_svg


@dataclass
class Diagram:
    """A rendered diagram: ``.svg`` text, ``.save(path)``, and inline display in Jupyter.

    Jupyter shows the explorer (``_repr_html_``) where the drawing is folded to its
    node budget; front ends that run no JavaScript use ``_repr_svg_``/``_repr_png_``.
    """

    svg: str
    graph: LayerGraph
    options: DiagramOptions
    _pipeline: Pipeline = field(repr=False)
    #: the explorer's views (empty when nothing is folded)
    views: Views = field(default_factory=Views, repr=False)

    @property
    def title(self) -> str:
        return self.options.alt or self.options.caption or self.graph.model

    @classmethod
    def of(cls, result: Result, options: DiagramOptions, pipeline: Pipeline) -> Diagram:
        """The diagram a pipeline produced (as SVG), its markup sanitised: the cache is
        untrusted input."""
        return cls(sanitize_svg(result.svg), result.graph, options, pipeline, result.explorer)

    def save(self, path: str | Path, dpi: int | None = None, *, fmt: str | None = None) -> Path:
        """Write ``fmt`` or else what the file name says (``output_format``);
        ``dpi`` applies to PNG. The one writer of files: the CLI saves through it too.

        An ``.html`` file is a standalone explorer: no server, no network needed.
        """
        target = Path(path)
        fmt = fmt or output_format(target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "html":
            target.write_text(standalone_html(self.svg, self.views, title=self.title), "utf-8")
        elif fmt == "json":
            target.write_text(self.to_json(), "utf-8")
        elif fmt == "svg":
            target.write_text(standalone_svg(self.svg), "utf-8")
        else:
            options = self.options.with_values(dpi=dpi) if dpi else self.options
            target.write_bytes(self._export(options, fmt))
        return target

    def to_json(self) -> str:
        """The architecture snapshot: byte-stable JSON to commit and compare later
        (the format: docs, "Architecture snapshot format")."""
        return snapshot.to_json(self.graph)

    def _export(self, options: DiagramOptions, fmt: str) -> bytes:
        data, _, _ = self._pipeline.render_graph(options, StoredGraph.of(self.graph), fmt, [])
        return data

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return notebook_html(
            self.svg, self.views, title=self.title, figure_id=f"model-diagram-{id(self):x}"
        )

    def _repr_png_(self) -> bytes:
        return self._export(self.options, "png")


def output_format(filename: str) -> str:
    """What a file name asks for: ``html`` (a standalone explorer), ``json`` (an
    architecture snapshot) or one of ``FILE_FORMATS``; an :class:`OptionError` naming
    what we write otherwise, so callers can refuse before tracing."""
    if is_html(filename):
        return "html"
    if filename.lower().endswith(".json"):
        return "json"
    return format_of(filename)


def render(
    model_or_factory: Any,
    *,
    input_data: Any = None,
    save_path: str | Path | None = None,
    graph_name: str | None = None,
    cache_dir: str | Path | None = None,
    cache_storage_options: dict[str, Any] | None = None,
    cache_mode: str | None = None,
    **options: Any,
) -> Diagram:
    """Draw a model. ``options`` are schema options (hyphens or underscores)."""
    if graph_name and "alt" not in options:
        options["alt"] = graph_name
    pipeline = Pipeline(cache_dir, storage_options=cache_storage_options, mode=cache_mode)
    if isinstance(model_or_factory, str):
        if input_data is not None:
            raise OptionError(
                "input_data needs a live model; with a factory path give input specs "
                "(input, inputs, kwargs)"
            )
        parsed = parse_options({"factory": model_or_factory, **options})
        with pipeline:  # the worker stops here; the diagram keeps the cache for exports
            result = pipeline.diagram(parsed)
        diagram = Diagram.of(result, parsed, pipeline)
    else:
        parsed = parse_options(options, require_factory=False)
        graph = _trace_live(model_or_factory, input_data, parsed)
        stored = StoredGraph.of(graph)
        data, _, _ = pipeline.render_graph(parsed, stored, "svg", [])
        views = pipeline.views(parsed, stored)
        diagram = Diagram(sanitize_svg(data.decode("utf-8")), graph, parsed, pipeline, views)
    if save_path is not None:
        diagram.save(save_path)
    return diagram


def _trace_live(model: Any, input_data: Any, options: DiagramOptions) -> LayerGraph:
    """Trace a model object in this process, on the device it already lives on."""
    import torch

    from . import trace
    from .forward_inputs import build_inputs, finish

    if not isinstance(model, torch.nn.Module):
        model = model()
    if not isinstance(model, torch.nn.Module):
        raise OptionError(f"render() needs an nn.Module or a factory, got {type(model).__name__}")
    device = trace.module_device(model) or "cpu"
    if options.device not in {"auto", device}:
        raise OptionError(
            f"the model lives on {device}; a live model is traced where it is (device: auto)"
        )
    stage = trace_options(options)
    if input_data is None:
        args, kwargs = build_inputs(stage, device, model)
    elif isinstance(input_data, (torch.Tensor, Mapping)):
        args, kwargs = finish(model, (input_data,), {}, stage, device)
    elif isinstance(input_data, (list, tuple)):
        args, kwargs = finish(model, tuple(input_data), {}, stage, device)
    else:
        kind = type(input_data).__name__
        raise OptionError(f"input_data must be a tensor, dict, list or tuple, not {kind}")
    return LayerGraph.from_dict(trace.trace_module(model, args, kwargs, stage, device))
