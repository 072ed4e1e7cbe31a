"""The torchview internals we build on, in one place.

torchview 0.2.7 records a forward pass into nodes and walks them to write
Graphviz text. We subclass its ``ComputationGraph`` to record the nodes it
would draw instead (depth, rolling and hidden tensors stay torchview's), and
narrow the walk it uses to find tensors in a module's arguments and results.
``tests/test_torchview_pin.py`` fails loudly when these internals move.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from .describe import describe_module, describe_node
from .layergraph import SCHEMA


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """torchview's recorder with two fixes, for the duration of the block.

    1. Tensors are looked for in dicts, lists, tuples and sets only. torchview's
       own walk iterates anything iterable: a key/value cache passed between
       layers (transformers' ``DynamicCache``, mamba's cache) then shows every
       earlier layer's keys as inputs of the next one, which breaks its graph
       (a ``KeyError`` at some depths) or the forward pass itself (mamba), and
       a returned cache draws its tensors as stray outputs; a generator would
       be consumed. Other objects are opaque leaves, as they are to torch.
    2. ``t[i] = v`` is recorded as an in-place op on ``t``: torch returns None
       from it, so torchview dropped the write and every edge after it (DIEN's
       GRU output, written into a zeros tensor, never reached its MLP).
    """
    import torch
    from torchview import recorder_tensor, torchview

    tensor_type = recorder_tensor.RecorderTensor
    original = tensor_type.__dict__["__torch_function__"]

    def torch_function(cls: Any, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is torch.Tensor.__setitem__ and args and isinstance(args[0], tensor_type):
            func = _setitem
        return original.__func__(cls, func, types, args, kwargs)

    def reduce_data_info(
        data: Any, action_fn: Callable[..., Any], collected: Any, **kw: Any
    ) -> Any:
        for tensor in _tensors(data, tensor_type):
            action_fn(tensor, collected, **kw)
        return collected

    def traverse_data_inplace(data: Any, action_fn: Callable[..., Any], **kw: Any) -> None:
        for tensor in _tensors(data, tensor_type):
            action_fn(tensor, **kw)

    # setattr: mypy would hold the replacements to torchview's own annotations
    patches = [
        (recorder_tensor, "reduce_data_info", reduce_data_info),
        (recorder_tensor, "traverse_data_inplace", traverse_data_inplace),
        (torchview, "reduce_data_info", reduce_data_info),
        (tensor_type, "__torch_function__", classmethod(torch_function)),
    ]
    saved = [(owner, name, vars(owner)[name]) for owner, name, _ in patches]
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original_value in saved:
            setattr(owner, name, original_value)


def _setitem(target: Any, index: Any, value: Any) -> Any:
    """``Tensor.__setitem__`` that returns its target, so the write is an in-place op."""
    import torch

    torch.Tensor.__setitem__(target, index, value)
    return target


_setitem.__name__ = "__setitem__"


def _tensors(data: Any, tensor_type: type) -> Iterator[Any]:
    """The recorder tensors in a nested structure, depth first, in order.

    Iterative, and each container is entered once: deep or self-containing
    structures neither recurse without bound nor loop.
    """
    stack, entered = [data], set()
    while stack:
        item = stack.pop()
        if isinstance(item, tensor_type):
            yield item
            continue
        if id(item) in entered:
            continue
        entered.add(id(item))
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple, AbstractSet)):
            stack.extend(reversed(list(item)))


def _unhide_nested_calls(hierarchy: dict[Any, list[Any]]) -> None:
    """A module that called another module is drawn open, not as one box.

    torchview takes a module without registered children for a leaf and, with
    ``hide-module-functions``, hides what ran inside it. A module it calls without
    registering it (a global instance: the ``kernels`` package's function modules
    in transformers' attention) is hidden with it, yet still claims its outputs,
    so the walk met edges from a node it never drew (a ``KeyError``). In torchview's
    hierarchy every module call is a ``{ModuleNode: children}`` dict.
    """
    stack = [hierarchy]
    while stack:
        module, children = next(iter(stack.pop().items()))
        nested = [child for child in children if isinstance(child, dict)]
        if nested:
            module.is_container = False
        stack.extend(nested)


def builder_class() -> type:
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
            #: every module with children that the walk entered, drawn or not: folding
            #: (model_diagram.folding) draws a folded one as a node from this record
            self.md_modules: dict[int, Any] = {}
            #: display names of modules called without being registered (describe.global_name)
            self.md_aliases: dict[int, str] = {}

        def render_nodes(self) -> None:
            _unhide_nested_calls(self.node_hierarchy)
            super().render_nodes()

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
                self.md_modules.setdefault(module.compute_unit_id, module)
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
                entry = describe_node(
                    nid,
                    node,
                    cluster,
                    modules=modules,
                    input_names=input_names,
                    tensor_type=TensorNode,
                    module_type=ModuleNode,
                )
                if isinstance(node, ModuleNode) and node.compute_unit_id in self.md_aliases:
                    entry["name"] = self.md_aliases[node.compute_unit_id]
                if scope in modules:
                    entry["scope"] = modules[scope][0]
                if isinstance(node, ModuleNode) and node.compute_unit_id in dtypes:
                    entry["in_dtypes"], entry["out_dtypes"] = dtypes[node.compute_unit_id]
                nodes.append(entry)
            return {
                "schema": SCHEMA,
                "model": type(model).__name__,
                "layers": nodes,
                "modules": [
                    describe_module(node, modules[unit], dtypes.get(unit))
                    for unit, node in self.md_modules.items()
                    if unit in modules
                ],
                "edges": [
                    {"tail": t, "head": h, "count": c} for (t, h), c in self.md_edges.items()
                ],
                "groups": list(self.md_clusters.values()),
            }

    return LayerGraphBuilder
