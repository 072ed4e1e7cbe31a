"""torchview internals we subclass or replace (src/model_diagram/graph_builder.py) are the ones
we read: this fails loudly, naming what moved, when a torchview release changes them.

To move the pin: read the new torchview source of each function named in a failure, update
graph_builder.py to match, then the hash here and the upper bound in pyproject.toml.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from torchview import computation_graph, computation_node, recorder_tensor, torchview

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

#: sha256[:16] of the source of each torchview piece graph_builder.py overrides, copies or
#: replaces, as read in torchview 0.2.7
SOURCES: dict[str, tuple[Any, str]] = {
    "ComputationGraph.__init__": (computation_graph.ComputationGraph.__init__, "235ac7ffc06e11e5"),
    "ComputationGraph.reset_graph_history": (
        computation_graph.ComputationGraph.reset_graph_history,
        "ce3d49a7f2296ddb",
    ),
    "ComputationGraph.traverse_graph": (
        computation_graph.ComputationGraph.traverse_graph,
        "1ea595197571498f",
    ),
    "ComputationGraph.add_node": (computation_graph.ComputationGraph.add_node, "5c4de3521852eda2"),
    "ComputationGraph.add_edge": (computation_graph.ComputationGraph.add_edge, "025f79980918a4ff"),
    "ComputationGraph.fill_visual_graph": (
        computation_graph.ComputationGraph.fill_visual_graph,
        "b25536979029a4d6",
    ),
    "reduce_data_info": (recorder_tensor.reduce_data_info, "91848209f0577978"),
    "traverse_data_inplace": (recorder_tensor.traverse_data_inplace, "d5c86c561138f04c"),
    "RecorderTensor.__torch_function__": (
        recorder_tensor.RecorderTensor.__torch_function__,
        "b1b253ff284fd107",
    ),
    "forward_prop": (torchview.forward_prop, "76da200bd9df8f7a"),
    "process_input": (torchview.process_input, "1776c5a394abfacd"),
}


def torchview_requirement() -> SpecifierSet:
    match = re.search(r'^\s*"torchview([^"]*)"', PYPROJECT.read_text("utf-8"), re.MULTILINE)
    assert match, "pyproject.toml lists no torchview dependency"
    return SpecifierSet(match[1])


def test_torchview_has_an_upper_bound_and_the_installed_version_is_inside() -> None:
    requirement = torchview_requirement()
    assert any(s.operator in {"<", "<="} for s in requirement), "torchview needs an upper bound"
    installed = importlib.metadata.version("torchview")
    assert installed in requirement, f"torchview {installed} is outside {requirement}"


@pytest.mark.parametrize("name", list(SOURCES))
def test_the_internals_we_build_on_are_unchanged(name: str) -> None:
    obj, expected = SOURCES[name]
    digest = hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]
    assert digest == expected, (
        f"torchview {importlib.metadata.version('torchview')} changed {name}, which "
        "model_diagram/graph_builder.py subclasses or replaces: read the new source, update "
        "graph_builder.py, then this hash and the bound in pyproject.toml"
    )


def test_the_names_we_use_exist() -> None:
    """Attributes and call shapes graph_builder.py and trace.py rely on."""
    graph = computation_graph.ComputationGraph
    assert list(inspect.signature(graph.__init__).parameters)[1:9] == [
        "visual_graph",
        "root_container",
        "show_shapes",
        "expand_nested",
        "hide_inner_tensors",
        "hide_module_functions",
        "roll",
        "depth",
    ]
    assert list(inspect.signature(torchview.forward_prop).parameters) == [
        "model",
        "x",
        "device",
        "model_graph",
        "mode",
        "kwargs",
    ]
    assert {"reduce_data_info", "traverse_data_inplace"} <= set(vars(recorder_tensor))
    assert "reduce_data_info" in vars(torchview)  # imported by name: patched there too
    assert isinstance(vars(recorder_tensor.RecorderTensor)["__torch_function__"], classmethod)
    for cls in (computation_node.TensorNode, computation_node.ModuleNode):
        assert "depth" in inspect.signature(cls.__init__).parameters
