"""torchview's nodes -> the layer graph's JSON entries (no torch import needed).

What a layer says about itself: kind, name, shapes, dtypes, and for modules
the qualified name, class and parameter count.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Any


def describe_node(
    nid: str,
    node: Any,
    cluster: str | None,
    *,
    modules: dict[int, tuple[str, Any]],
    input_names: dict[int, tuple[str, str]],
    tensor_type: Any,
    module_type: Any,
) -> dict[str, Any]:
    """One layer entry; ``modules`` maps id(module) -> (qualname, module)."""
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


def describe_module(
    node: Any, named: tuple[str, Any], dtypes: tuple[list[str], list[str]] | None
) -> dict[str, Any]:
    """A module the walk entered (not necessarily drawn): what a folded node shows."""
    qualname, module = named
    cls = type(module)
    entry: dict[str, Any] = {
        "qualname": qualname,
        "name": node.name,
        "depth": node.depth,
        "cls": f"{cls.__module__}.{cls.__qualname__}",
        "params": int(sum(p.numel() for p in module.parameters())),
        "inputs": _shape_list(node.input_shape),
        "outputs": _shape_list(node.output_shape),
    }
    if dtypes is not None:
        entry["in_dtypes"], entry["out_dtypes"] = dtypes
    return entry


def _shape_list(shapes: Any) -> list[list[int]]:
    out = []
    for shape in shapes or ():
        with contextlib.suppress(TypeError, ValueError):
            out.append([int(d) for d in shape])
    return out


def global_name(module: Any) -> str | None:
    """The module-level name that holds ``module``, when its class's own name says nothing.

    A class made inside a function (the ``kernels`` package wraps transformers'
    ``apply_rotary_pos_emb`` in a module class named ``Func``) is named by the
    global its instance, or another instance of that class (the copy a model
    dispatches to), is kept in; a class of its own keeps its name.
    """
    cls = type(module)
    if "<locals>" not in cls.__qualname__:
        return None
    namespace: dict[str, Any] = getattr(sys.modules.get(cls.__module__), "__dict__", {})
    held = list(namespace.items())
    same = [name for name, value in held if value is module]
    kin = [name for name, value in held if type(value) is cls]
    return next(iter(same or kin), None)


def dtype_names(value: Any) -> list[str]:
    """dtypes of the tensors in a nested structure, e.g. ``["float32", "int64"]``."""
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return [str(value.dtype).removeprefix("torch.")]
    if isinstance(value, Mapping):
        return [d for v in value.values() for d in dtype_names(v)]
    if isinstance(value, (list, tuple)):
        return [d for v in value for d in dtype_names(v)]
    return []


def input_names(args: Any, kwargs: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
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
