"""Model + inputs -> a neutral layer graph: loading, the device policy, the traced pass.

Runs in the worker. The layer graph leaves in its JSON form (see
:mod:`model_diagram.layergraph`), so it can be cached, rendered by any style
and never needs torch again.
torchview's own Graphviz output is not used: we keep its traversal (depth,
rolling, hidden tensors) and record the nodes it would draw.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .describe import dtype_names, global_name, input_names
from .errors import DiagramError, FactoryError, TraceError
from .forward_inputs import build_inputs
from .graph_builder import builder_class, recording
from .loader import call_factory, import_object, user_location

#: a model larger than this is never rebuilt on CPU after a failed meta trace
CPU_FALLBACK_LIMIT = 8 * 1024**3
#: ``auto`` traces a model with at most this many bytes of weights on CPU: building it
#: there costs less than the meta device's one-off import of sympy (about 0.5 s;
#: ``torch._dynamo`` is deferred), which a build of small models then never pays
SMALL_MODEL = 32 * 1024**2


def trace_diagram(options: Mapping[str, Any]) -> dict[str, Any]:
    """Load, build inputs and trace, following the ``device`` policy.

    ``auto`` builds on the meta device (no weights allocated); a small model with
    given inputs is built again and traced on CPU, any other traced on meta and,
    when that fails on a data-dependent op, tried again on CPU (with a note).
    """
    device = options["device"]
    if device != "auto":
        return _traced(options, device)
    try:
        model, used = _build(options, "meta")
    except FactoryError as meta_error:
        if getattr(meta_error, "final", False):  # it returned no Module: never called twice
            raise
        return _traced(options, "cpu", because=meta_error)
    if used == "meta" and _given_inputs(options) and _weight_bytes(model) <= SMALL_MODEL:
        del model  # the same tensors on CPU: the same drawing, without the meta imports
        return _traced(options, "cpu")
    try:
        graph, notes = _trace(model, options, used)
    except TraceError as meta_error:
        if used != "meta" or getattr(meta_error, "too_big", False):
            raise
        del model
        return _traced(options, "cpu", because=meta_error)
    return {"graph": graph, "device": used, "notes": notes}


def _traced(
    options: Mapping[str, Any], device: str, because: DiagramError | None = None
) -> dict[str, Any]:
    """Build and trace on ``device``; ``because``: the meta device's failure, noted."""
    model, used = _build(options, device)
    graph, notes = _trace(model, options, used)
    if because is not None:
        notes.append(f"traced on CPU because the meta device failed: {because.message}")
    return {"graph": graph, "device": used, "notes": notes}


def _build(options: Mapping[str, Any], device: str) -> tuple[Any, str]:
    """(the model, the device it is on): an instance given as the factory stays where it is."""
    import torch

    factory_path = options["factory"]
    factory = import_object(factory_path)
    with _device_context(device, factory):
        model = call_factory(factory_path, factory, options["factory-kwargs"])
    if isinstance(factory, torch.nn.Module):
        device = module_device(model) or "cpu"
    return model, device


def _trace(model: Any, options: Mapping[str, Any], device: str) -> tuple[dict[str, Any], list[str]]:
    """(layer graph, notes) of one traced pass on ``device``."""
    notes: list[str] = []
    args, kwargs = build_inputs(options, device, model, notes)
    try:
        return trace_module(model, args, kwargs, options, device), notes
    except TraceError as exc:
        if notes:  # a failure with guessed inputs says how they were guessed
            exc.message += f" ({'; '.join(notes)})"
        if device == "meta":
            size = _weight_bytes(model)
            if size > CPU_FALLBACK_LIMIT:
                exc.too_big = True  # type: ignore[attr-defined]
                exc.message += (
                    f" (tracing on the meta device failed and the model's "
                    f"{size / 1024**3:.0f} GiB of weights are too large to retry on CPU)"
                )
        exc.args = (exc.message,)
        raise


def _given_inputs(options: Mapping[str, Any]) -> bool:
    """The page gives forward's inputs (guessed ones depend on the device: a
    transformers mask is left out on meta, so those stay there for one drawing)."""
    keys = ("input", "inputs", "kwargs", "input-size", "input-factory")
    return any(options.get(key) is not None for key in keys)


def _weight_bytes(model: Any) -> int:
    """Bytes of the model's parameters and buffers (counted on meta: nothing allocated)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def warm_up() -> None:
    """Pay the meta device's one-off costs in the worker's parent, for its later children.

    The first meta-device ``linear`` imports sympy (about 0.5 s; the compiler it
    would import too is deferred, as in a trace); doing it there also keeps them out
    of those diagrams' recorded dependencies.
    """
    import torch

    with torch.device("meta"), _no_weight_init(torch), _compiler_deferred(torch):
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


def warm_up_cpu() -> None:
    """Trace a tiny model of common layers on CPU once, in the worker's parent.

    The first time a process sends an op through torchview's recorder tensor,
    torch pays a one-off cost per op (0.1 to 0.3 s for a small transformer):
    paid here, the children forked later trace in tens of milliseconds.
    """
    import torch
    from torch import nn

    from .options import TRACE, DiagramOptions

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(16, 8)
            self.attend = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
            self.norm = nn.LayerNorm(8)
            self.conv = nn.Sequential(
                nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)
            )
            self.head = nn.Sequential(nn.Linear(8 + 16, 4), nn.GELU(), nn.Dropout(0.1))

        def forward(self, ids: Any, image: Any) -> Any:
            text = self.norm(self.attend(self.embed(ids))).mean(1)
            pixels = torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(image), 2), 1)
            return torch.softmax(self.head(torch.cat([text, pixels], -1)), -1)

    # children are forked from this process: a pool of OpenMP threads started here would
    # hang them (libgomp does not survive fork), so the parent computes on one thread
    torch.set_num_threads(1)
    options = DiagramOptions(factory="model_diagram:warm_up").stage_dict(TRACE)
    ids, image = torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 3, 8, 8)
    with contextlib.suppress(Exception):  # an optimisation only: never a failed build
        trace_module(Tiny(), (ids, image), {}, {**options, "depth": 3}, "cpu")


#: what the first meta-device op imports (about 1.3 s; sympy is another 0.5 s)
DYNAMO = "torch._dynamo"


class _DeferredDynamo(types.ModuleType):
    """Stands in for ``torch._dynamo`` while one meta-device pass runs.

    torch's Python meta kernels (``torch._refs``) are wrapped in
    ``torch._compile._disable_dynamo``, whose first call imports the compiler only
    to mark the kernel "never compile this". Nothing compiles during a trace, so
    that call gets the kernel itself back, and :meth:`undo` forgets the marks.
    Any other use of this module imports the real one.
    """

    def __init__(self, inner: types.CodeType) -> None:
        super().__init__(DYNAMO)
        self._inner = inner
        self._marked: list[Any] = []

    def disable(self, fn: Any = None, *args: Any, **kwargs: Any) -> Any:
        if callable(fn) and sys._getframe(1).f_code is self._inner:
            self._marked.append(fn)
            return fn
        return self._real().disable(fn, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def _real(self) -> Any:
        self._release()
        return importlib.import_module(DYNAMO)

    def _release(self) -> None:
        if sys.modules.get(DYNAMO) is self:
            del sys.modules[DYNAMO]

    def undo(self) -> None:
        """Nothing outlives the pass: a later compile in this process sees torch as it was."""
        self._release()
        for fn in self._marked:
            if getattr(fn, "__dict__", {}).get("__dynamo_disable") is fn:
                delattr(fn, "__dynamo_disable")


@contextlib.contextmanager
def _compiler_deferred(torch: Any) -> Iterator[None]:
    """Trace on meta without importing ``torch._dynamo`` (see :class:`_DeferredDynamo`).

    Where torch's ``_disable_dynamo`` no longer has that shape, or the compiler
    is loaded already, nothing changes.
    """
    probe = getattr(getattr(torch, "_compile", None), "_disable_dynamo", None)
    inner = getattr(probe(lambda: None), "__code__", None) if callable(probe) else None
    if DYNAMO in sys.modules or not isinstance(inner, types.CodeType):
        yield
        return
    stand_in = _DeferredDynamo(inner)
    sys.modules[DYNAMO] = stand_in
    try:
        yield
    finally:
        stand_in.undo()


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


def trace_module(
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
    device: str,
) -> dict[str, Any]:
    depth = math.inf if options["depth"] < 0 else options["depth"]
    builder, x, kw, dtypes = _record(model, args, kwargs, options, device, depth=depth)
    try:
        builder.fill_visual_graph()
    except Exception as exc:  # torchview's own graph walk failed on this model

        def at_every_depth() -> None:
            _record(model, args, kwargs, options, device, depth=math.inf)[0].fill_visual_graph()

        raise _graph_error(exc, options["depth"], at_every_depth) from None
    graph: dict[str, Any] = builder.layer_graph(model, input_names(x, kw), dtypes)
    return graph


def _record(
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
    device: str,
    *,
    depth: float,
) -> tuple[Any, Any, Any, dict[int, tuple[list[str], list[str]]]]:
    """Run forward once under torchview's recorder: (builder, recorded args, kwargs, dtypes)."""
    from torchview.torchview import forward_prop, process_input

    modes = {name: m.training for name, m in model.named_modules()}
    dtypes: dict[int, tuple[list[str], list[str]]] = {}
    registered = {id(m) for m in model.modules()}
    unregistered: dict[int, Any] = {}  # modules forward called that the model does not hold

    def record(module: Any, inputs: Any, output: Any) -> None:
        dtypes.setdefault(id(module), (dtype_names(inputs), dtype_names(output)))
        if id(module) not in registered:
            unregistered.setdefault(id(module), module)

    import torch

    hook = torch.nn.modules.module.register_module_forward_hook(record)

    deferred = _compiler_deferred(torch) if device == "meta" else contextlib.nullcontext()
    try:
        with recording(), deferred:
            x, kw, input_nodes = process_input(list(args), None, kwargs, device)
            builder = builder_class()(
                None,
                input_nodes,
                True,
                options["expand-nested"],
                options["hide-inner-tensors"],
                options["hide-module-functions"],
                options["roll"],
                depth,
            )
            mode = options["mode"]

            def prop(inputs: Any, **keywords: Any) -> None:
                forward_prop(model, inputs, device, builder, mode, **keywords)

            _forward(prop, model, x, kw)
    except RuntimeError as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        raise _forward_error(cause, args) from None
    except RecursionError as exc:
        raise _forward_error(exc, args) from None
    finally:
        hook.remove()
        for name, module in model.named_modules():
            if name in modes:
                module.training = modes[name]
    builder.md_aliases = {
        unit: name for unit, module in unregistered.items() if (name := global_name(module))
    }
    return builder, x, kw, dtypes


def _forward(prop: Callable[..., None], model: Any, x: Any, kw: dict[str, Any]) -> None:
    """``model(*x, **kw)`` under torchview's recorder (``prop``).

    torchview passes keyword inputs through its own keyword parameters, so a forward
    argument named ``x``, ``device`` or ``mode`` would collide: keywords alone go as
    torchview's mapping input, and with positional inputs too they are bound to this
    (forked, discarded) instance's forward.
    """
    if not (kw.keys() & _forward_prop_parameters()):
        prop(x, **kw)
    elif not x:
        prop(kw)  # torchview calls model(**kw)
    else:
        model.forward = functools.partial(model.forward, **kw)
        try:
            prop(x)
        finally:
            del model.forward


@functools.cache
def _forward_prop_parameters() -> frozenset[str]:
    """``torchview.forward_prop``'s own named parameters, as the installed torchview has them."""
    import inspect

    from torchview.torchview import forward_prop

    named = inspect.signature(forward_prop).parameters.values()
    return frozenset(p.name for p in named if p.kind is not inspect.Parameter.VAR_KEYWORD)


def _graph_error(exc: Exception, depth: int, at_every_depth: Callable[[], None]) -> TraceError:
    """Say where torchview's graph walk broke, and whether depth -1 (tried now) draws the model."""
    detail = traceback.format_exc()
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{type(exc).__name__}: {exc} in torchview's {frame.name}"
    if depth < 0:
        advice = "it fails at every depth"
    else:
        try:
            at_every_depth()
            advice = "depth -1 draws this model (tried just now)"
        except Exception:
            advice = "depth -1 fails too"
    return TraceError(
        f"the forward pass ran, but torchview could not connect the recorded layers at "
        f"depth {depth} ({where}); {advice}; this is a torchview limitation: "
        "please report it with the model to model-diagram",
        detail=detail,
    )


def _forward_error(exc: BaseException, args: tuple[Any, ...]) -> TraceError:
    message = f"{_who_raised(exc)} raised {type(exc).__name__}: {exc}".rstrip()
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


def _who_raised(exc: BaseException) -> str:
    """Blame "the model's forward", unless torchview's own recording code raised.

    A torch op that fails inside forward raises through torchview's
    ``__torch_function__`` (the op has no Python frame of its own): that is
    still the model's error.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    if (
        last is not None
        and f"{os.sep}torchview{os.sep}" in last.filename
        and last.name != "__torch_function__"
    ):
        name = Path(last.filename).name
        return (
            f"torchview's recorder ({name}:{last.lineno} in {last.name}, "
            "while the model's forward ran)"
        )
    return "the model's forward"
