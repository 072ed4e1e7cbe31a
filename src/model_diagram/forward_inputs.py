"""forward's ``(args, kwargs)`` for one diagram: from its input options, else guessed.

Runs in the worker (imports torch). The spec grammar lives in ``inputs.py``
and the guessing in ``providers.py``; this module only decides which applies.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from .errors import InputError
from .inputs import materialize, parse_structure
from .loader import load_callable, user_location


def build_inputs(
    options: Mapping[str, Any], device: str, model: Any, notes: list[str] | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """forward's (args, kwargs): from the input options, else guessed from the model;
    then ``extra-kwargs`` on top (see :func:`finish`)."""
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

        guessed = guess_inputs(model, options, device, notes=notes)
        args, kwargs = _to_device(guessed, device, torch)
    return finish(model, args, kwargs, options, device)


def finish(
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
    device: str,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``extra-kwargs`` over the inputs, replacing keyword arguments of the same name.

    ``use_cache`` is not switched off by default: the recorder treats cache
    objects as opaque, and without a cache transformers' mask code reads tensor
    values (its packed-sequence check), which the meta device does not have.
    """
    extra = options.get("extra-kwargs") or {}
    if not extra:
        return args, kwargs
    return args, {**kwargs, **materialize(parse_structure(extra), device)}


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
