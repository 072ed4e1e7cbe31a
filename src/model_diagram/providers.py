"""Example inputs found from the model itself, when a diagram gives none.

When none of ``input``, ``inputs``, ``kwargs``, ``input-size`` or
``input-factory`` is set, the built model is offered to each provider in
turn; the first that does not decline supplies ``forward``'s arguments:

1. ``example-input-array``: the model's ``example_input_array`` (PyTorch
   Lightning's convention: a tuple or list is positional arguments, a dict is
   keyword arguments, anything else is the one argument).
2. ``transformers``: Hugging Face models; ``input_ids`` (and
   ``token_type_ids``, ``attention_mask``, ``decoder_input_ids``, a two-tower
   model's ``pixel_values`` where ``forward`` takes them), ``pixel_values``,
   ``input_features`` or ``input_values``, sized from the (text, vision) config.
3. ``torch-rechub``: the feature lists a Torch-RecHub model carries, as ONE
   dict of feature tensors passed as the single positional argument.
4. third-party providers from the ``model_diagram.input_providers`` entry
   point group, by entry point name.

If all decline, forward needs one argument and the model's first layer is an
Embedding, token ids for it are tried, with a note saying so.
Otherwise the error lists what was tried and suggests an ``input:`` line from
the model's first layer. ``input-provider: NAME`` forces one provider.

The interface, for a third-party library::

    def provide_inputs(model, request):   # request: InputRequest
        if not isinstance(model, MyBase):
            return None                   # decline: not a model this provider knows
        b = request.batch_size
        return (f"float[{b},{model.in_dim}]",), {"ids": f"long[{b},{request.seq_length}](0,99)"}

    # pyproject.toml
    [project.entry-points."model_diagram.input_providers"]
    mylib = "mylib.diagrams:provide_inputs"

It returns ``(args, kwargs)`` for ``forward`` or ``None``. Leaves may be
tensors (moved to ``request.device``), tensor-spec strings or
:class:`~model_diagram.inputs.TensorSpec` (built seeded on the device, the
same way as a diagram's own ``input``). Raise :class:`InputError` when the
model is yours but its inputs cannot be built. The model lives on
``request.device``, which is ``meta`` by default: only shapes exist there.

This module imports torch only inside functions: front ends import it to
validate ``input-provider``.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .inputs import TensorSpec, materialize, parse_spec
from .loader import user_location

#: entry point group third-party libraries register providers in
GROUP = "model_diagram.input_providers"


@dataclass(frozen=True)
class InputRequest:
    """What a provider needs besides the model: sizes for generated inputs and their device."""

    batch_size: int
    seq_length: int
    device: str


Args = tuple[tuple[Any, ...], dict[str, Any]]
Provider = Callable[[Any, InputRequest], Any]


# -- 1. PyTorch Lightning's example_input_array


def from_example_input_array(model: Any, request: InputRequest) -> Args | None:
    """Lightning's convention, as its ModelSummary calls ``forward`` with it."""
    example = getattr(model, "example_input_array", None)
    if example is None:
        return None
    if isinstance(example, (tuple, list)):
        return tuple(example), {}
    if isinstance(example, Mapping):
        return (), dict(example)
    return (example,), {}


# -- 2. Hugging Face transformers

_MAX_POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len", "max_sequence_length")


def from_transformers(model: Any, request: InputRequest) -> Args | None:
    """forward's main input, sized from the model's config, plus the companions it needs.

    ``main_input_name`` picks the main input: token ids (vocabulary from the text
    config of multi-modal models), pixels (from the vision config), log-mel
    ``input_features`` or raw ``input_values`` audio. Encoder-decoders also get
    ``decoder_input_ids``; two-tower models such as CLIP get ``pixel_values``
    beside the ids. ``dummy_inputs`` is not used: its fixed 3x5 ids ignore our sizes.
    """
    if not _has_base(model, "transformers.", "PreTrainedModel"):
        return None
    config = model.config
    params = _forward_parameters(model)
    main = getattr(model, "main_input_name", "input_ids")
    batch = request.batch_size
    kwargs: dict[str, Any] = {}
    if main == "pixel_values":
        kwargs[main] = _pixels(config, batch)
    elif main == "input_features":
        kwargs[main] = _audio_features(model, config, batch)
    elif main == "input_values":
        # one second at 16 kHz: enough samples for every wav2vec2-style feature encoder
        kwargs[main] = TensorSpec("float32", (batch, 16000))
    elif main == "input_ids":
        kwargs.update(_token_inputs(model, config, params, request))
    else:
        raise InputError(
            f"{type(model).__name__} takes {main!r}, which the transformers provider cannot "
            f"build; give it with kwargs, for example  kwargs: {{{main}: 'float[{batch},...]'}}"
        )
    if "decoder_input_ids" in params and getattr(config, "is_encoder_decoder", False):
        text = _text_config(config, decoder=True)
        vocab = _vocab(model, text)
        kwargs["decoder_input_ids"] = TensorSpec("int64", (batch, _length(text, request)), 0, vocab)
    return (), kwargs


def _token_inputs(
    model: Any, config: Any, params: set[str], request: InputRequest
) -> dict[str, TensorSpec]:
    text = _text_config(config)
    vocab = _vocab(model, text)
    shape = (request.batch_size, _length(text, request))
    kwargs = {"input_ids": TensorSpec("int64", shape, 0, vocab)}
    type_vocab = getattr(text, "type_vocab_size", None)
    if "token_type_ids" in params and isinstance(type_vocab, int) and type_vocab > 0:
        kwargs["token_type_ids"] = TensorSpec("int64", shape, 0, type_vocab)
    # An all-ones mask is what transformers assumes without one, and its mask
    # check reads values, which meta tensors do not have.
    if "attention_mask" in params and request.device != "meta":
        kwargs["attention_mask"] = TensorSpec("int64", shape, 1, 2)
    # two towers (CLIP, SigLIP, ...): forward also needs the image; models that splice
    # image features into the text at image tokens (LLaVA) draw their text path alone
    vision = getattr(config, "vision_config", None)
    splices = any(hasattr(config, a) for a in ("image_token_id", "image_token_index"))
    if "pixel_values" in params and vision is not None and not splices:
        kwargs["pixel_values"] = _pixels(vision, request.batch_size)
    return kwargs


def _text_config(config: Any, **side: bool) -> Any:
    """The config holding vocab_size: a multi-modal model's text config (transformers >= 4.44)."""
    get = getattr(config, "get_text_config", None)
    return get(**side) if callable(get) else config


def _vocab(model: Any, text: Any) -> int:
    vocab = getattr(text, "vocab_size", None)
    if not isinstance(vocab, int) or vocab <= 0:
        raise InputError(
            f"{type(model).__name__}'s config has no vocab_size to draw input_ids from; "
            "give them with kwargs, for example  kwargs: {input_ids: 'long[2,16](0,1000)'}"
        )
    return vocab


def _length(text: Any, request: InputRequest) -> int:
    length = request.seq_length
    for attr in _MAX_POSITIONS:
        limit = getattr(text, attr, None)
        if isinstance(limit, int) and limit > 0:
            return min(length, limit)
    return length


def _pixels(config: Any, batch: int) -> TensorSpec:
    vision = getattr(config, "vision_config", None) or config
    size = getattr(vision, "image_size", 224)
    height, width = (size, size) if isinstance(size, int) else tuple(size)[-2:]
    channels = getattr(vision, "num_channels", 3)
    return TensorSpec("float32", (batch, channels, height, width))


def _audio_features(model: Any, config: Any, batch: int) -> TensorSpec:
    """Log-mel frames: Whisper wants exactly ``2 * max_source_positions`` of them (its
    convolutions halve them), Speech2Text ``(batch, frames, features x channels)``."""
    mels = getattr(config, "num_mel_bins", None)
    positions = getattr(config, "max_source_positions", None)
    if isinstance(mels, int) and isinstance(positions, int):
        return TensorSpec("float32", (batch, mels, 2 * positions))
    per_channel = getattr(config, "input_feat_per_channel", None)
    if isinstance(per_channel, int):
        channels = getattr(config, "input_channels", 1)
        return TensorSpec("float32", (batch, 64, per_channel * channels))
    feature_size = getattr(config, "feature_size", None) or getattr(config, "hidden_size", 80)
    if isinstance(feature_size, int):
        return TensorSpec("float32", (batch, 64, feature_size))
    raise InputError(
        f"{type(model).__name__} takes 'input_features' and its config gives no feature "
        "size; give them with kwargs, for example  kwargs: {input_features: 'float[2,80,3000]'}"
    )


# -- 3. Torch-RecHub

#: the attributes Torch-RecHub models keep their feature lists in, in merge order
RECHUB_FEATURE_ATTRS = (
    "features",
    "deep_features",
    "fm_features",
    "wide_features",
    "linear_features",
    "cross_features",
    "user_features",
    "item_features",
    "history_features",
    "neg_history_features",
    "target_features",
    "neg_item_feature",
)
_SEQUENCE_LENGTH_ATTRS = ("max_len", "maxlen", "max_length", "seq_len", "seq_length")


def from_torch_rechub(model: Any, request: InputRequest) -> Args | None:
    """ONE dict of feature tensors, merged by feature name, as the single positional argument.

    Sparse ids ``(batch,)`` in ``[0, vocab_size)``, sequences ``(batch, seq-length)``
    (or the feature's own maximum length), dense floats ``(batch,)`` or
    ``(batch, embed_dim)``; ids of a feature sharing another's table stay in that table.
    """
    features = _rechub_features(model)
    if not features:
        return None
    batch = request.batch_size
    x: dict[str, TensorSpec] = {}
    for name, (kind, feature) in features.items():
        if kind == "DenseFeature":
            dim = getattr(feature, "embed_dim", 1)
            x[name] = TensorSpec("float32", (batch,) if dim == 1 else (batch, dim))
            continue
        vocab = feature.vocab_size
        shared = features.get(getattr(feature, "shared_with", None) or "")
        if shared is not None and shared[0] != "DenseFeature":
            vocab = min(vocab, shared[1].vocab_size)
        if kind == "SequenceFeature":
            length = next(
                (
                    v
                    for a in _SEQUENCE_LENGTH_ATTRS
                    if isinstance(v := getattr(feature, a, None), int) and v > 0
                ),
                request.seq_length,
            )
            x[name] = TensorSpec("int64", (batch, length), 0, vocab)
        else:
            x[name] = TensorSpec("int64", (batch,), 0, vocab)
    return (x,), {}


def _rechub_features(model: Any) -> dict[str, tuple[str, Any]]:
    """name -> (feature class name, feature): the known lists first, then any other list."""
    own = vars(model)
    attrs = [*RECHUB_FEATURE_ATTRS, *(a for a in own if a not in RECHUB_FEATURE_ATTRS)]
    found: dict[str, tuple[str, Any]] = {}
    for attr in attrs:
        value = own.get(attr)
        items = value if isinstance(value, (list, tuple)) else [value]
        typed = [(kind, item) for item in items if (kind := _feature_kind(item))]
        if not items or len(typed) != len(items):
            continue
        for kind, item in typed:
            found.setdefault(item.name, (kind, item))
    return found


def _feature_kind(item: Any) -> str | None:
    for cls in type(item).__mro__:
        if cls.__name__ in {"SparseFeature", "SequenceFeature", "DenseFeature"}:
            return cls.__name__
    return None


# -- the chain

BUILTIN: dict[str, Provider] = {
    "example-input-array": from_example_input_array,
    "transformers": from_transformers,
    "torch-rechub": from_torch_rechub,
}


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """Third-party providers, by name; a name taken by a built-in stays the built-in."""
    found = importlib.metadata.entry_points(group=GROUP)
    by_name = {ep.name: ep for ep in sorted(found, key=lambda ep: (ep.name, ep.value))}
    return [ep for name, ep in by_name.items() if name not in BUILTIN]


def provider_names() -> list[str]:
    """Every name ``input-provider`` accepts (no provider is imported)."""
    return ["auto", *BUILTIN, *(ep.name for ep in entry_points())]


def load_provider(entry_point: importlib.metadata.EntryPoint) -> Provider:
    """Import a third-party provider; the error names the entry point and its target."""
    try:
        provider = entry_point.load()
    except Exception as exc:
        raise InputError(
            f"input provider {entry_point.name!r} ({entry_point.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}",
            detail=traceback.format_exc(),
        ) from None
    if not callable(provider):
        raise InputError(
            f"input provider {entry_point.name!r} ({entry_point.value}) is a "
            f"{type(provider).__name__}, not a callable (model, request) -> (args, kwargs) | None"
        )
    return provider  # type: ignore[no-any-return]


def guess_inputs(
    model: Any,
    options: Mapping[str, Any],
    device: str,
    eps: Iterable[importlib.metadata.EntryPoint] | None = None,
    notes: list[str] | None = None,
) -> Args:
    """``forward``'s (args, kwargs) from the first provider that applies, built on ``device``.

    ``options`` are the trace options by name (``batch-size``, ``seq-length``,
    ``input-provider``); ``eps`` replaces the installed entry points. When none
    applies, the first layer's input is the last guess (:func:`_from_first_layer`),
    and ``notes`` says so.
    """
    request = InputRequest(options["batch-size"], options["seq-length"], device)
    forced = options.get("input-provider", "auto")
    # third-party code is imported only when the chain reaches it
    chain: list[tuple[str, Provider | importlib.metadata.EntryPoint]] = [
        *BUILTIN.items(),
        *((ep.name, ep) for ep in (entry_points() if eps is None else eps)),
    ]
    tried: list[str] = []
    for name, target in chain:
        if forced not in {"auto", name}:
            continue
        if isinstance(target, importlib.metadata.EntryPoint):
            made = _call(name, load_provider(target), model, request)
        else:
            made = _call(name, target, model, request)
        if made is not None:
            return made
        tried.append(name)
    if forced == "auto":
        guessed = _from_first_layer(model, request, tried)
        if guessed is None:
            raise InputError(unguessable_message(model, tried, request))
        made, note = guessed
        if notes is not None:
            notes.append(note)
        return made
    if not tried:
        known = ", ".join(n for n, _ in chain)
        raise InputError(f"input-provider {forced!r} is not installed (known: {known})")
    raise InputError(
        f"input-provider {forced!r} does not apply to {type(model).__name__}: use "
        "input-provider: auto, or give input, inputs, kwargs, input-size or input-factory"
    )


def _call(name: str, provider: Provider, model: Any, request: InputRequest) -> Args | None:
    try:
        made = provider(model, request)
    except InputError as exc:
        exc.message = f"input provider {name!r}: {exc.message}"
        exc.args = (exc.message,)
        raise
    except Exception as exc:
        raise InputError(
            f"input provider {name!r} raised {type(exc).__name__}: {exc}{user_location(exc)}",
            detail=traceback.format_exc(),
        ) from None
    if made is None:
        return None
    if (
        not isinstance(made, (tuple, list))
        or len(made) != 2
        or not isinstance(made[0], (tuple, list))
        or not isinstance(made[1], Mapping)
    ):
        raise InputError(
            f"input provider {name!r} must return (args, kwargs) or None, got {type(made).__name__}"
        )
    built = materialize(_specs((tuple(made[0]), dict(made[1]))), request.device)
    return tuple(built[0]), dict(built[1])


def _specs(value: Any) -> Any:
    """Spec strings -> TensorSpec inside a structure; tensors and other leaves stay."""
    if isinstance(value, str):
        return parse_spec(value)
    if isinstance(value, Mapping):
        return {k: _specs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_specs(v) for v in value)
    return value


# -- 4. nothing applied: say what was tried and what to write


def unguessable_message(model: Any, tried: list[str], request: InputRequest) -> str:
    """The error for a model no provider knows, with an ``input:`` line from its first layer."""
    head = (
        f"no inputs given and none could be guessed for {type(model).__name__}: tried "
        f"{_join(tried)}, and forward{_signature(model)} gives no shapes"
    )
    layer = _first_layer(model, request)
    if layer is None:
        return (
            f"{head}. Give one of input, inputs, kwargs, input-size or input-factory "
            f"(for example  input: 'float[{request.batch_size},3,32,32]')"
        )
    qualname, module, spec, note = layer
    first = f"{head}. Its first layer, {qualname} = {module!r},"
    required = _required_arguments(model)
    if required > 1:
        return (
            f"{first} takes  '{spec}'{note}; give all {required} arguments of forward, "
            f"for example  inputs: ['{spec}', ...]  or with kwargs"
        )
    return (
        f"{first} suggests  input: '{spec}'{note}; "
        "or give inputs, kwargs, input-size or input-factory"
    )


def _from_first_layer(
    model: Any, request: InputRequest, tried: list[str]
) -> tuple[Args, str] | None:
    """The guess of last resort, said in a note: forward needs one argument and the first
    layer is an Embedding, so that argument is token ids (Torch-RecHub's HSTU, HLLM). A
    Linear or a convolution first is not guessed: its input size or rank is a guess."""
    from torch import nn

    layer = _first_layer(model, request)
    if layer is None or not isinstance(layer[1], nn.Embedding) or _required_arguments(model) > 1:
        return None
    qualname, module, spec, _ = layer
    note = (
        f"inputs guessed from the first layer, {qualname} = {module!r}: input: '{spec}' "
        f"(no provider applied: tried {_join(tried)}); give input or kwargs if forward "
        "wants something else"
    )
    return ((materialize(parse_spec(spec), request.device),), {}), note


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _first_layer(model: Any, request: InputRequest) -> tuple[str, Any, str, str] | None:
    """(qualname, module, spec, note) for the first layer whose input size is known."""
    from torch import nn
    from torch.nn.modules.conv import _ConvNd

    batch, seq = request.batch_size, request.seq_length
    for qualname, module in model.named_modules():
        if isinstance(module, _ConvNd) and module.in_channels > 0:
            spatial = len(module.kernel_size)
            dims = ",".join(["32"] * spatial)
            guess = "x".join(["32"] * spatial)
            return (
                qualname,
                module,
                f"float[{batch},{module.in_channels},{dims}]",
                f"  ({guess} is a guess: use your input size)",
            )
        if isinstance(module, nn.Linear) and module.in_features > 0:
            return qualname, module, f"float[{batch},{module.in_features}]", ""
        if isinstance(module, nn.Embedding):
            return qualname, module, f"long[{batch},{seq}](0,{module.num_embeddings})", ""
        if isinstance(module, nn.RNNBase) and module.input_size > 0:
            dims = f"{batch},{seq}" if module.batch_first else f"{seq},{batch}"
            return qualname, module, f"float[{dims},{module.input_size}]", ""
    return None


def _signature(model: Any) -> str:
    """``(x: Tensor)``: forward's parameters as written (string annotations unquoted)."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    for p in parameters:
        stars = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(p.kind.name, "")
        text = stars + p.name
        if p.annotation is not p.empty:
            ann = p.annotation
            text += f": {ann if isinstance(ann, str) else inspect.formatannotation(ann)}"
        parts.append(text)
    return f"({', '.join(parts)})"


def _required_arguments(model: Any) -> int:
    """How many arguments forward cannot do without (1 when it cannot be told)."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    }
    return sum(1 for p in parameters if p.kind in kinds and p.default is p.empty) or 1


def _forward_parameters(model: Any) -> set[str]:
    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set()


def _has_base(model: Any, module_prefix: str, name: str) -> bool:
    """True if a base class named ``name`` comes from ``module_prefix`` (imports nothing)."""
    return any(
        c.__name__ == name and c.__module__.startswith(module_prefix) for c in type(model).__mro__
    )
