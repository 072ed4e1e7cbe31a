"""Model + inputs -> a neutral layer graph (torchview underneath).

Runs in the worker. The layer graph is plain JSON (nodes, edges, clusters),
so it can be cached, rendered by any style and never needs torch again.
torchview's own Graphviz output is not used: we keep its traversal (depth,
rolling, hidden tensors) and record the nodes it would draw.
"""

from __future__ import annotations

import contextlib
import math
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import FactoryError, InputError, TraceError
from .inputs import materialize, parse_structure
from .loader import call_factory, import_object, load_callable, user_location

#: a model larger than this is never rebuilt on CPU after a failed meta trace
CPU_FALLBACK_LIMIT = 8 * 1024**3


def trace_diagram(options: Mapping[str, Any]) -> dict[str, Any]:
    """Load, build inputs and trace, following the ``device`` policy.

    ``auto`` builds and traces on the meta device (no weights allocated) and,
    when that fails on a data-dependent op, tries again on CPU and says so.
    """
    device = options["device"]
    if device != "auto":
        return {"graph": _attempt(options, device), "device": device, "notes": []}
    try:
        return {"graph": _attempt(options, "meta"), "device": "meta", "notes": []}
    except (TraceError, FactoryError) as meta_error:
        if getattr(meta_error, "too_big", False):
            raise
        graph = _attempt(options, "cpu")
        note = f"traced on CPU because the meta device failed: {meta_error.message}"
        return {"graph": graph, "device": "cpu", "notes": [note]}


def _attempt(options: Mapping[str, Any], device: str) -> dict[str, Any]:
    import torch

    factory_path = options["factory"]
    factory = import_object(factory_path)
    with _device_context(device, factory):
        model = call_factory(factory_path, factory, options["factory-kwargs"])
    if isinstance(factory, torch.nn.Module):
        device = module_device(model) or "cpu"
    args, kwargs = build_inputs(options, device, model)
    try:
        return trace_module(model, args, kwargs, options, device)
    except TraceError as exc:
        if device == "meta":
            size = sum(p.numel() * p.element_size() for p in model.parameters())
            if size > CPU_FALLBACK_LIMIT:
                exc.too_big = True  # type: ignore[attr-defined]
                exc.message += (
                    f" (tracing on the meta device failed and the model's "
                    f"{size / 1024**3:.0f} GiB of weights are too large to retry on CPU)"
                )
                exc.args = (exc.message,)
        raise


def warm_up() -> None:
    """Pay one-off costs before the first job, while the docs build is still starting.

    The first meta-device ``linear`` imports ``torch._dynamo`` and sympy (about
    1 s); doing it here also keeps them out of every diagram's recorded
    dependencies.
    """
    import torch

    with torch.device("meta"), _no_weight_init(torch):
        layer = torch.nn.Linear(4, 4)
        layer(torch.empty(2, 4))


@contextlib.contextmanager
def _device_context(device: str, factory: Any) -> Iterator[None]:
    import torch

    if isinstance(factory, torch.nn.Module) or device == "cpu":
        yield
        return
    skip_init = _no_weight_init(torch) if device == "meta" else contextlib.nullcontext()
    with torch.device(device), skip_init:
        yield


@contextlib.contextmanager
def _no_weight_init(torch: Any) -> Iterator[None]:
    """Skip ``torch.nn.init`` while building on meta: there are no values to fill.

    The first init of a meta tensor imports ``torch._dynamo`` and sympy (over a
    second of every cold build) and would record them as dependencies.
    """
    init = torch.nn.init
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_")]
    saved = {name: getattr(init, name) for name in names}

    def skip(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return tensor

    for name in names:
        setattr(init, name, skip)
    try:
        yield
    finally:
        for name, func in saved.items():
            setattr(init, name, func)


def module_device(model: Any) -> str | None:
    """The device an existing instance lives on: tracing it never moves it."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return str(tensor.device.type)
    return None


def build_inputs(
    options: Mapping[str, Any], device: str, model: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """forward's (args, kwargs): from the input options, else guessed from the model."""
    import torch

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if options["input"] is not None:
        args = (materialize(parse_structure(options["input"]), device),)
    elif options["inputs"] is not None:
        args = tuple(materialize(parse_structure(options["inputs"]), device))
    elif options["input-size"] is not None:
        sizes = options["input-size"]
        shapes = sizes if isinstance(sizes[0], list) else [sizes]
        args = tuple(
            materialize(parse_structure(f"float[{','.join(map(str, s))}]"), device) for s in shapes
        )
    elif options["input-factory"] is not None:
        made = _call_input_factory(options["input-factory"])
        args, kwargs = _to_device(made, device, torch)
    if options["kwargs"] is not None:
        kwargs = materialize(parse_structure(options["kwargs"]), device)
    if not args and not kwargs:
        from .providers import guess_inputs

        args, kwargs = _to_device(guess_inputs(model, options, device), device, torch)
    return args, kwargs


def _call_input_factory(path: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    func = load_callable(path)
    try:
        made = func()
    except Exception as exc:
        raise InputError(
            f"input-factory {path!r} raised {type(exc).__name__}: {exc}{user_location(exc)}",
            detail=traceback.format_exc(),
        ) from None
    if (
        not isinstance(made, tuple)
        or len(made) != 2
        or not isinstance(made[0], (tuple, list))
        or not isinstance(made[1], Mapping)
    ):
        raise InputError(
            f"input-factory {path!r} must return (args, kwargs), got {type(made).__name__}"
        )
    return tuple(made[0]), dict(made[1])


def _to_device(made: tuple[tuple[Any, ...], dict[str, Any]], device: str, torch: Any) -> Any:
    def move(item: Any) -> Any:
        if isinstance(item, torch.Tensor):
            return item.to(device)
        if isinstance(item, Mapping):
            return {k: move(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(move(v) for v in item)
        return item

    return move(made)


def trace_module(
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
    device: str,
) -> dict[str, Any]:
    from torchview.torchview import forward_prop, process_input

    depth = math.inf if options["depth"] < 0 else options["depth"]
    modes = {name: m.training for name, m in model.named_modules()}
    dtypes: dict[int, tuple[list[str], list[str]]] = {}

    def record_dtypes(module: Any, inputs: Any, output: Any) -> None:
        dtypes.setdefault(id(module), (_dtype_names(inputs), _dtype_names(output)))

    hooks = [m.register_forward_hook(record_dtypes) for m in model.modules()]
    try:
        x, kw, input_nodes = process_input(list(args), None, kwargs, device)
        builder = _graph_builder_class()(
            None,
            input_nodes,
            True,
            options["expand-nested"],
            options["hide-inner-tensors"],
            options["hide-module-functions"],
            options["roll"],
            depth,
        )
        forward_prop(model, x, device, builder, options["mode"], **kw)
    except RuntimeError as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        raise _forward_error(cause, args) from None
    except RecursionError as exc:
        raise _forward_error(exc, args) from None
    finally:
        for hook in hooks:
            hook.remove()
        for name, module in model.named_modules():
            if name in modes:
                module.training = modes[name]
    try:
        builder.fill_visual_graph()
    except Exception as exc:  # torchview's own graph walk failed on this model
        raise TraceError(
            f"the forward pass ran, but torchview could not build the graph "
            f"({type(exc).__name__}: {exc}); try another depth, or set "
            "hide-inner-tensors / hide-module-functions differently",
            detail=traceback.format_exc(),
        ) from None
    graph: dict[str, Any] = builder.layer_graph(model, _input_names(x, kw), dtypes)
    return graph


def _dtype_names(value: Any) -> list[str]:
    """dtypes of the tensors in a nested structure, e.g. ``["float32", "int64"]``."""
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return [str(value.dtype).removeprefix("torch.")]
    if isinstance(value, Mapping):
        return [d for v in value.values() for d in _dtype_names(v)]
    if isinstance(value, (list, tuple)):
        return [d for v in value for d in _dtype_names(v)]
    return []


def _forward_error(exc: BaseException, args: tuple[Any, ...]) -> TraceError:
    message = f"the model's forward raised {type(exc).__name__}: {exc}".rstrip()
    if len(message) > 600:
        message = message[:600] + "..."
    message += user_location(exc)
    if any(isinstance(a, Mapping) for a in args) and isinstance(exc, (TypeError, AttributeError)):
        message += (
            "; the model received a dict as its one positional input: if forward takes "
            "separate tensors, give them with 'kwargs' or 'inputs' instead of 'input'"
        )
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return TraceError(message, detail=detail)


def _input_names(args: Any, kwargs: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    """id(recorder tensor) -> (a readable path such as ``x['hist']``, its dtype)."""
    names: dict[int, tuple[str, str]] = {}

    def walk(item: Any, path: str) -> None:
        if hasattr(item, "tensor_nodes"):
            names[id(item)] = (path, str(item.dtype).removeprefix("torch."))
        elif isinstance(item, Mapping):
            for key, value in item.items():
                walk(value, f"{path}[{key!r}]" if path else str(key))
        elif isinstance(item, (list, tuple)):
            for i, value in enumerate(item):
                walk(value, f"{path}[{i}]")

    positional = list(args) if isinstance(args, (list, tuple)) else [args]
    for i, value in enumerate(positional):
        walk(value, "x" if len(positional) == 1 else f"arg{i}")
    for key, value in kwargs.items():
        walk(value, str(key))
    return names


def _graph_builder_class() -> type:
    """Subclass torchview's ComputationGraph to record nodes instead of Graphviz text."""
    from torchview.computation_graph import ComputationGraph
    from torchview.computation_node import FunctionNode, ModuleNode, TensorNode

    class LayerGraphBuilder(ComputationGraph):
        def reset_graph_history(self) -> None:
            super().reset_graph_history()
            self.md_nodes: dict[str, tuple[Any, str | None, int | None]] = {}
            self.md_edges: dict[tuple[str, str], int] = {}
            self.md_clusters: dict[str, dict[str, Any]] = {}
            self.md_scope: list[int] = []  # compute_unit_id of the modules being walked

        def traverse_graph(self, action_fn: Any, **kwargs: Any) -> None:
            cur = kwargs["cur_node"]
            if isinstance(cur, (TensorNode, ModuleNode, FunctionNode)):
                if cur.depth <= self.depth:
                    action_fn(**kwargs)
                return
            module, children = next(iter(cur.items()))
            step = {**kwargs, "cur_node": module}
            if 0 <= module.depth <= self.depth:
                action_fn(**step)
            if self.hide_module_functions and module.is_container:
                for node in module.output_nodes:
                    self.traverse_graph(action_fn, **{**step, "cur_node": node})
                return
            if self.expand_nested and 1 <= module.depth < self.depth:
                cluster = f"cluster_{self.subgraph_dict[module.node_id]}"
                self.md_clusters.setdefault(
                    cluster, {"id": cluster, "label": module.name, "parent": kwargs["subgraph"]}
                )
                step["subgraph"] = cluster
            if module.depth >= 0:
                self.md_scope.append(module.compute_unit_id)
            for node in children:
                self.traverse_graph(action_fn, **{**step, "cur_node": node})
            if module.depth >= 0:
                self.md_scope.pop()

        def add_node(self, node: Any, subgraph: Any = None) -> None:
            if node.node_id not in self.id_dict:
                self.id_dict[node.node_id] = self.running_node_id
                self.running_node_id += 1
            scope = self.md_scope[-1] if self.md_scope else None
            self.md_nodes.setdefault(str(self.id_dict[node.node_id]), (node, subgraph, scope))
            self.node_set.add(id(node))

        def add_edge(self, edge_ids: tuple[int, int], edg_cnt: int) -> None:
            key = (str(edge_ids[0]), str(edge_ids[1]))
            self.md_edges[key] = max(self.md_edges.get(key, 0), edg_cnt)

        def resize_graph(self, *args: Any, **kwargs: Any) -> None:
            """Sizing is the style's job."""

        def layer_graph(
            self,
            model: Any,
            input_names: dict[int, tuple[str, str]],
            dtypes: dict[int, tuple[list[str], list[str]]],
        ) -> dict[str, Any]:
            modules = {id(m): (q, m) for q, m in model.named_modules(remove_duplicate=False)}
            nodes = []
            for nid, (node, cluster, scope) in self.md_nodes.items():
                entry = _describe(
                    nid,
                    node,
                    cluster,
                    modules=modules,
                    input_names=input_names,
                    tensor_type=TensorNode,
                    module_type=ModuleNode,
                )
                if scope in modules:
                    entry["scope"] = modules[scope][0]
                if isinstance(node, ModuleNode) and node.compute_unit_id in dtypes:
                    entry["in_dtypes"], entry["out_dtypes"] = dtypes[node.compute_unit_id]
                nodes.append(entry)
            return {
                "model": type(model).__name__,
                "nodes": nodes,
                "edges": [
                    {"tail": t, "head": h, "count": c} for (t, h), c in self.md_edges.items()
                ],
                "clusters": list(self.md_clusters.values()),
            }

    return LayerGraphBuilder


def _shape_list(shapes: Any) -> list[list[int]]:
    out = []
    for shape in shapes or ():
        with contextlib.suppress(TypeError, ValueError):
            out.append([int(d) for d in shape])
    return out


def _describe(
    nid: str,
    node: Any,
    cluster: str | None,
    *,
    modules: dict[int, tuple[str, Any]],
    input_names: dict[int, tuple[str, str]],
    tensor_type: Any,
    module_type: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": nid, "name": node.name, "depth": node.depth, "cluster": cluster}
    if isinstance(node, tensor_type):
        kind = {"input-tensor": "input", "output-tensor": "output"}.get(node.name, "tensor")
        shape = [int(d) for d in node.tensor_shape]
        entry.update(kind=kind, inputs=[shape], outputs=[shape])
        if kind == "input" and node.tensor_id in input_names:
            entry["label"], dtype = input_names[node.tensor_id]
            entry["in_dtypes"] = entry["out_dtypes"] = [dtype]
        return entry
    entry.update(
        kind="module" if isinstance(node, module_type) else "function",
        inputs=_shape_list(node.input_shape),
        outputs=_shape_list(node.output_shape),
    )
    if isinstance(node, module_type) and node.compute_unit_id in modules:
        qualname, module = modules[node.compute_unit_id]
        cls = type(module)
        entry.update(
            qualname=qualname,
            cls=f"{cls.__module__}.{cls.__qualname__}",
            params=int(sum(p.numel() for p in module.parameters())),
        )
    return entry
