"""THE option schema: every option is declared once here.

The Sphinx directive's ``option_spec``, the MkDocs block keys and plugin
config, the CLI flags and the docs' option table are all generated from
:class:`DiagramOptions`. Options are spelled with hyphens; underscores are
accepted as aliases. Values given as strings (rST options, CLI flags) are
read as YAML flow syntax (so JSON works too) with safe loading only.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, cast, get_type_hints

from .errors import DiagramError, InputError, OptionError
from .inputs import check_size, parse_structure
from .sanitize import plain_text
from .theme import PALETTES
from .yamlread import YamlError, read_yaml

Converter = Callable[[Any], Any]

TRACE, RENDER, PAGE = "trace", "render", "page"

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


@dataclass(frozen=True)
class OptionSpec:
    """How one option is named, typed, documented and parsed."""

    name: str
    attr: str
    type: str
    default: Any
    help: str
    convert: Converter
    stage: str
    example: str
    structured: bool
    #: a boolean (the field's type, not the display text): a bare rST option or CLI flag is true
    flag: bool
    #: values may hold ``#hex`` colours, which YAML would read as comments
    colors: bool = False

    def from_value(self, value: Any) -> Any:
        """Validate a YAML/Python value; the error names option, value and what is accepted.

        Never raises anything but a :class:`DiagramError` (the pre-scanners rely on it):
        the value's size is bounded first, so no converter walks an alias bomb.
        """
        try:
            try:
                check_size(value, "input" if self.name in INPUT_OPTIONS else "value")
            except InputError as exc:
                if self.name in INPUT_OPTIONS:
                    raise
                raise OptionError(exc.message) from None
            return self.convert(value)
        except DiagramError as exc:
            if isinstance(exc, OptionError) and exc.message.startswith("option '"):
                raise
            exc.message = f"option '{self.name}': {exc.message}"
            exc.args = (exc.message,)
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise OptionError(  # a short repr: YAML aliases can make a value huge
                f"option '{self.name}': invalid value {_REPR.repr(value)} "
                f"({str(exc)[:200]}); expected {self.type}"
            ) from None
        except Exception as exc:  # a converter's bug must still be a located warning
            raise OptionError(
                f"option '{self.name}': cannot read {_REPR.repr(value)} "
                f"({type(exc).__name__}); expected {self.type}"
            ) from None

    def from_string(self, text: str | None) -> Any:
        """Parse an rST option / CLI flag; a bare flag (no text) means true for booleans."""
        if text is None or not text.strip():
            if self.flag:
                return True
            raise OptionError(f"option '{self.name}' needs a value ({self.type})")
        if not self.structured:
            return self.from_value(text.strip())
        if self.colors:  # '[#fff, #000]' and '{Conv2d: #56b4e9}' as typed on a command line
            text = _BARE_HEX.sub(r"\1'\2'", text)
        try:
            value = read_yaml(text)
        except YamlError as exc:
            raise OptionError(
                f"option '{self.name}': cannot parse {_REPR.repr(text.strip())} as YAML/JSON "
                f"({exc.message})"
            ) from None
        return self.from_value(value)


# -- converters: each takes a YAML/Python value and returns the validated value


def _text(value: Any) -> str:
    """Text without control characters or lone surrogates (they make SVG invalid XML)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError("not text")
    return plain_text(str(value))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "true",
        "yes",
        "on",
        "1",
        "false",
        "no",
        "off",
        "0",
    }:
        return value.lower() in {"true", "yes", "on", "1"}
    raise TypeError("not a boolean")


def _int(low: int, high: int | None = None) -> Converter:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("not an integer")
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            value = int(value)
        if not isinstance(value, int):
            raise TypeError("not an integer")
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"must be {limit}")
        return value

    return convert


def _depth(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    depth: int = _int(-1)(value)
    return depth


def _positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError("must be a positive number")
    return number


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _size(value: Any) -> int:
    """``512MiB``, ``4GiB``, ``4GB`` (binary units, like ``ulimit``); 64 MiB to 1 PiB."""
    match = _SIZE.match(value) if isinstance(value, str) and len(value) < 40 else None
    if match is None:
        raise ValueError("give a number and a unit: 512MiB, 4GiB")
    size = int(float(match[1]) * _UNITS[match[2][0].lower()])
    if not 2**26 <= size <= 2**50:
        raise ValueError("must be between 64MiB and 1PiB")
    return size


def _choice(*choices: str) -> Converter:
    def convert(value: Any) -> str:
        text = str(value).strip()
        for choice in choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueError(f"must be one of {', '.join(choices)}")

    return convert


_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _import_path(value: Any) -> str:
    text = _text(value).strip()
    if not _FACTORY.match(text):
        raise ValueError("must look like 'package.module:attr' (attr may be dotted)")
    return text


def _optional_import_path(value: Any) -> str | None:
    return None if value is None else _import_path(value)


def _mapping(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError("not a mapping with string keys")
    return dict(value)


def _factory_kwargs(value: Any) -> dict[str, Any]:
    """Plain data only: the kwargs cross to the worker as JSON and are part of the cache key
    (YAML can also give dates, bytes, sets and structures that contain themselves)."""
    mapping = _mapping(value)
    try:
        check_size(mapping, "factory-kwargs")
    except InputError as exc:
        raise OptionError(f"option 'factory-kwargs': {exc.message}") from None
    stack: list[Any] = [mapping]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping) and all(isinstance(k, str) for k in item):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            raise OptionError(
                f"option 'factory-kwargs': cannot pass {_REPR.repr(item)} "
                f"({type(item).__name__}) to the factory; use strings, numbers, booleans, "
                "lists and mappings with string keys (quote dates and other YAML types)"
            )
    return mapping


def _input(value: Any) -> Any:
    """One positional argument: a spec or a nested dict/list of specs, validated now."""
    if value is None:
        return None
    parse_structure(value)
    return value


def _inputs(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise TypeError("not a list of positional arguments")
    parse_structure(list(value))
    return list(value)


def _kwargs(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    mapping = _mapping(value)
    parse_structure(mapping)
    return mapping


def _extra_kwargs(value: Any) -> dict[str, Any]:
    mapping = _mapping(value)
    parse_structure(mapping)
    return mapping


def _input_size(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError("not a list of dims")

    def check(item: Any) -> Any:
        if isinstance(item, (list, tuple)):
            return [check(i) for i in item]
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise ValueError(f"dims must be positive integers, got {item!r}")
        return item

    checked: list[Any] = check(value)
    return checked


_LENGTH = re.compile(r"^\d+(\.\d+)?(px|em|ex|pt|pc|cm|mm|in|%|)$")


def _length(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value).strip().replace(" ", "")
    if not _LENGTH.match(text):
        raise ValueError("must be a length such as 600px, 80% or 12em")
    return text


def _classes(value: Any) -> tuple[str, ...]:
    items = value.split() if isinstance(value, str) else list(value or ())
    for item in items:
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z_][\w-]*", item):
            raise ValueError(f"{item!r} is not a CSS class name")
    return tuple(items)


def _name(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value).strip()
    if not re.fullmatch(r"[A-Za-z][\w.:-]*", text) or ".." in text:
        raise ValueError("must start with a letter and use only letters, digits, _ . : -")
    return text


def _compare_to(value: Any) -> str | None:
    """An earlier version to draw against: a snapshot ``.json`` path or a factory path."""
    if value is None:
        return None
    text = _text(value).strip()
    if _FACTORY.match(text):
        return text
    if text.lower().endswith(".json") and "\x00" not in text and "\\" not in text:
        return text
    raise ValueError(
        "must be a snapshot file ending in .json (relative to the page, or /path from the "
        "docs source directory) or a factory 'package.module:attr'"
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _input_provider(value: Any) -> str:
    from .providers import BUILTIN, provider_names  # entry points are listed, not loaded

    text = _text(value).strip()
    if text != "auto" and text not in BUILTIN and text not in (names := provider_names()):
        raise ValueError(f"must be one of {', '.join(names)}")
    return text


# -- converters of the layered and lenet styles' options


_HEX = re.compile(r"^#?(?:[0-9a-f]{3}|[0-9a-f]{6})$")
_BARE_HEX = re.compile(r"(^|[\s\[{,:])(#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?)(?=$|[\s\]},])")
_CSS_NAME = re.compile(r"^[a-z]+$")


def _color(value: Any) -> str:
    """A colour as lower-case ``#rrggbb``: ``#rgb``, ``#rrggbb`` (the ``#`` may be left out,
    as a shell would drop it) or a CSS colour name (``orange``, ``rebeccapurple``)."""
    text = _unquoted(value).lower().replace(" ", "")
    if _CSS_NAME.match(text) and not _HEX.match(text):
        from PIL import ImageColor  # the CSS colour names, from a dependency we have anyway

        if text not in ImageColor.colormap:
            import difflib

            close = difflib.get_close_matches(text, ImageColor.colormap, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"{text!r} is not a CSS colour name{hint}")
        return "#{:02x}{:02x}{:02x}".format(*ImageColor.getrgb(text)[:3])
    if not _HEX.match(text):
        raise ValueError("must be a colour such as '#1f77b4', '#abc' or a CSS name like orange")
    digits = text.lstrip("#")
    return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits))


def _optional_color(value: Any) -> str | None:
    return None if value is None else _color(value)


def _unquoted(value: Any) -> str:
    """Text with one pair of quotes removed: colour options are read as plain text (so a
    ``#hex`` is not a YAML comment), and ``'#222222'`` as in YAML still works."""
    text = _text(value).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text


def _background(value: Any) -> str:
    text = _unquoted(value).lower()
    return "transparent" if text in {"transparent", "none"} else _color(text)


def _font_family(value: Any) -> str:
    from .fonts import ALIASES, FAMILIES  # only when a page sets a font: a warm build skips it

    text = _text(value).strip().lower()
    if text not in FAMILIES and text not in ALIASES:
        raise ValueError(
            f"must be one of {', '.join(FAMILIES)} (or {', '.join(ALIASES)}): the families "
            "whose metrics both Graphviz engines know"
        )
    return ALIASES.get(text, text)


def _print_width(value: Any) -> str | None:
    """A printed width such as ``3.3in``, ``8.5cm``, ``240pt`` (normalised, unit kept)."""
    if value is None:
        return None
    from .units import print_inches

    text = _text(value).strip().replace(" ", "").lower()
    if not 0.5 <= print_inches(text) <= 100:
        raise ValueError("must be between 0.5in and 100in")
    return text


def _color_map(value: Any) -> dict[str, dict[str, str]]:
    """``{Conv2d: '#hex', Linear: {fill: '#hex', outline: '#hex'}}`` -> fill/outline dicts."""
    result: dict[str, dict[str, str]] = {}
    for name, entry in _mapping(value).items():
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"fill", "outline"}
            if unknown:
                raise ValueError(f"{name}: unknown keys {sorted(unknown)}; use fill and outline")
            result[name] = {key: _color(entry[key]) for key in ("fill", "outline") if key in entry}
        else:
            result[name] = {"fill": _color(entry)}
    return result


def _palette(value: Any) -> str | list[str]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("a palette needs at least one colour")
        return [_color(v) for v in value]
    text = _text(value).strip().lower().replace("_", "-")
    if text not in PALETTES:
        raise ValueError(f"must be one of {', '.join(PALETTES)} or a list of colours")
    return text


def _opacity(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("not a number")
    number = float(value)
    if not 0 <= number <= 255:
        raise ValueError("must be between 0 and 1 (or 0 and 255, as in VisualTorch)")
    return number / 255 if number > 1 else number


#: largest size, spacing or font size in px (figures are at most 100000 px a side)
MAX_PIXELS = 10_000.0
#: largest scale factor of the layered and lenet styles
MAX_SCALE = 100.0


def _pixels(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_PIXELS:
        raise ValueError(f"must be a number of pixels from 0 to {MAX_PIXELS:.0f}")
    return number


def _font_size(value: Any) -> float:
    number = _positive_number(value)
    if number > MAX_PIXELS:
        raise ValueError(f"must be at most {MAX_PIXELS:.0f} px")
    return number


def _scale(value: Any) -> float:
    number = _positive_number(value)
    if number > MAX_SCALE:
        raise ValueError(f"must be at most {MAX_SCALE:g}")
    return number


def _optional_pixels(value: Any) -> float | None:
    return None if value is None else _pixels(value)


def _type_names(value: Any) -> tuple[str, ...]:
    items = re.split(r"[\s,]+", value.strip()) if isinstance(value, str) else list(value or ())
    for item in items:
        if not isinstance(item, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", item):
            raise ValueError(f"{item!r} is not a layer class or function name")
    return tuple(item for item in items if item)


#: the files we write, by name suffix: the ``format`` option's values, the CLI's ``-o``
#: and ``Diagram.save`` all come from here (pictures, then editable drawings)
PICTURE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
EDITABLE_FORMATS = {".drawio": "drawio", ".tex": "tikz", ".graphml": "graphml"}
FILE_FORMATS = PICTURE_FORMATS | EDITABLE_FORMATS
#: format -> file name suffix
SUFFIXES = {fmt: suffix for suffix, fmt in FILE_FORMATS.items()}


def _spoken(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else items[0]


def writable_formats() -> str:
    """'a .svg, .png or .pdf file name[, or an editable ...]' (error messages, CLI help)."""
    text = f"a {_spoken(list(PICTURE_FORMATS))} file name"
    if EDITABLE_FORMATS:
        text += f", or an editable {_spoken(list(EDITABLE_FORMATS))}"
    return text


def format_of(filename: str) -> str:
    """The format a file name asks for; an :class:`OptionError` listing ours otherwise."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    fmt = FILE_FORMATS.get(suffix)
    if fmt is None:
        what = f"the extension {suffix!r}" if suffix else "a file name without an extension"
        raise OptionError(
            f"cannot write {filename!r}: {what} is not a format model-diagram writes; "
            f"use {writable_formats()}"
        )
    return fmt


def opt(
    default: Any,
    type_: str,
    help_: str,
    convert: Converter,
    *,
    stage: str,
    example: str,
    structured: bool = True,
    name: str | None = None,
    colors: bool = False,
) -> Any:
    """Declare one option as a dataclass field carrying its :class:`OptionSpec` parts."""
    meta = {
        "type": type_,
        "help": help_,
        "convert": convert,
        "stage": stage,
        "example": example,
        "structured": structured,
        "name": name,
        "colors": colors,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DiagramOptions:
    """Every option of a diagram, validated. Build with :func:`parse_options`."""

    factory: str = opt(
        "",
        "import path",
        "The model: `package.module:attr`, where attr (dotted path allowed) "
        "is a function or class returning an `nn.Module`, or an `nn.Module` instance.",
        _import_path,
        stage=TRACE,
        example="example_project.models:make_cnn",
        structured=False,
    )
    factory_kwargs: dict[str, Any] = opt(
        {},
        "mapping",
        "Keyword arguments passed to the factory.",
        _factory_kwargs,
        stage=TRACE,
        example="{num_classes: 5}",
    )
    input: Any = opt(
        None,
        "tensor spec or nested dict/list of specs",
        "ONE positional argument. A dict stays a dict: `forward(x)` receives it whole.",
        _input,
        stage=TRACE,
        example="{user_id: 'long[2](0,1000)', age: 'float[2]'}",
    )
    inputs: list[Any] | None = opt(
        None,
        "list of specs",
        "Several positional arguments, in order.",
        _inputs,
        stage=TRACE,
        example="['float[2,8]', 'float[2,8]']",
    )
    kwargs: dict[str, Any] | None = opt(
        None,
        "mapping of specs",
        "Keyword arguments for `forward`.",
        _kwargs,
        stage=TRACE,
        example="{input_ids: 'long[1,16](0,1000)'}",
    )
    extra_kwargs: dict[str, Any] = opt(
        {},
        "mapping of specs or values",
        "Keyword arguments for `forward` added on top of the inputs, whichever way they "
        "came (given or guessed), replacing any of the same name: a mask, or "
        "`use_cache: false` to leave a decoder's cache bookkeeping out of the drawing.",
        _extra_kwargs,
        stage=TRACE,
        example="{use_cache: false, attention_mask: 'long[2,10](1,2)'}",
    )
    input_size: list[Any] | None = opt(
        None,
        "list of dims",
        "torchview's `input_size`: float inputs of these shapes.",
        _input_size,
        stage=TRACE,
        example="[1, 3, 32, 32]",
    )
    input_factory: str | None = opt(
        None,
        "import path",
        "`module:callable` returning `(args, kwargs)` for `forward`.",
        _optional_import_path,
        stage=TRACE,
        example="mypkg.docs:example_inputs",
        structured=False,
    )
    input_provider: str = opt(
        "auto",
        "auto | provider name",
        "Where inputs come from when none are given: `auto` tries `example-input-array`, "
        "`transformers`, `torch-rechub`, then providers installed under the "
        "`model_diagram.input_providers` entry point group; a name forces that one.",
        _input_provider,
        stage=TRACE,
        example="torch-rechub",
        structured=False,
    )
    batch_size: int = opt(
        2,
        "int",
        "Batch size of generated inputs.",
        _int(1, 1 << 20),
        stage=TRACE,
        example="4",
    )
    seq_length: int = opt(
        10,
        "int",
        "Sequence length of generated inputs.",
        _int(1, 1 << 24),
        stage=TRACE,
        example="16",
    )
    depth: int | None = opt(
        None,
        "auto | int",
        "How many levels of nested modules to show; -1 shows all levels. `auto` (the "
        "default) traces every level and shows the deepest one that fits `max-nodes`; "
        "the explorer then opens the folded modules.",
        _depth,
        stage=TRACE,
        example="2",
    )
    max_nodes: int = opt(
        40,
        "int",
        "With `depth: auto`, the most nodes the drawing may show: deeper modules fold "
        "into one node each until it fits. 0 draws every level.",
        _int(0, 100_000),
        stage=RENDER,
        example="60",
    )
    explore: bool = opt(
        True,
        "bool",
        "With `depth: auto` and modules folded, let readers open them (views drawn at "
        "build time, loaded from files next to the page), find layers and read details.",
        _bool,
        stage=PAGE,
        example="false",
    )
    expand_nested: bool = opt(
        False,
        "bool",
        "Draw dashed boxes around nested modules.",
        _bool,
        stage=TRACE,
        example="true",
    )
    hide_inner_tensors: bool = opt(
        True,
        "bool",
        "Hide tensors between layers (inputs and outputs stay).",
        _bool,
        stage=TRACE,
        example="false",
    )
    hide_module_functions: bool = opt(
        True,
        "bool",
        "Hide the torch functions inside leaf modules.",
        _bool,
        stage=TRACE,
        example="false",
    )
    roll: bool = opt(
        False,
        "bool",
        "Draw a module reused in a loop once, with a back edge.",
        _bool,
        stage=TRACE,
        example="true",
    )
    mode: str = opt(
        "eval",
        "eval | train",
        "Module mode while tracing.",
        _choice("eval", "train"),
        stage=TRACE,
        example="train",
    )
    device: str = opt(
        "auto",
        "auto | meta | cpu | cuda",
        "Where to build and trace. `auto` builds on the meta device (no weights are "
        "allocated), traces a model of at most 32 MiB of weights whose inputs the page "
        "gives on CPU and any other on meta, and falls back to CPU for data-dependent "
        "models.",
        _choice("auto", "meta", "cpu", "cuda"),
        stage=TRACE,
        example="cpu",
    )
    timeout: float = opt(
        120.0,
        "seconds",
        "Give up on loading and tracing after this long.",
        _positive_number,
        stage=PAGE,
        example="300",
    )
    memory_limit: int | None = opt(
        None,
        "size (e.g. 4GiB)",
        "Most memory the model's process may allocate beyond the worker's own (Linux); "
        "a model that needs more fails with a warning instead of exhausting the machine.",
        lambda v: None if v is None else _size(v),
        stage=PAGE,
        example="4GiB",
        structured=False,
    )
    show_shapes: bool = opt(
        True,
        "bool",
        "Show input/output shapes in node labels.",
        _bool,
        stage=RENDER,
        example="false",
    )
    direction: str = opt(
        "TB",
        "TB | LR | BT | RL",
        "Layout direction.",
        _choice("TB", "LR", "BT", "RL"),
        stage=RENDER,
        example="LR",
    )
    show_params: bool = opt(
        False,
        "bool",
        "Show each module's parameter count in its label.",
        _bool,
        stage=RENDER,
        example="true",
    )
    show_dtypes: bool = opt(
        False,
        "bool",
        "Show tensor dtypes next to shapes in labels.",
        _bool,
        stage=RENDER,
        example="true",
    )
    collapse_repeats: bool | None = opt(
        None,
        "bool (default: on when depth is auto, -1 or > 1)",
        "Draw identical consecutive blocks (e.g. 24 transformer layers) once, with an x24 "
        "badge; inputs every block reads (rotary embeddings, a mask) do not prevent it.",
        lambda v: None if v is None else _bool(v),
        stage=RENDER,
        example="false",
    )
    legend: bool = opt(
        False,
        "bool",
        "Add a legend of the node kinds (graph) or layer types (layered, lenet).",
        _bool,
        stage=RENDER,
        example="true",
    )
    link_classes: bool = opt(
        True,
        "bool",
        "Link a node to its module class's API page when the site documents it.",
        _bool,
        stage=PAGE,
        example="false",
    )
    table: bool = opt(
        False,
        "bool",
        "Add a collapsible text table of the layers under the figure.",
        _bool,
        stage=PAGE,
        example="true",
    )
    compare_to: str | None = opt(
        None,
        "snapshot .json | import path",
        "Draw the model as a diff against an earlier version: a snapshot file written by "
        "`model-diagram render ... -o arch.json` (relative to the page; `/` starts from the "
        "docs source directory) or another factory traced with the same options. Added, "
        "removed and changed layers are marked.",
        _compare_to,
        stage=PAGE,
        example="/_snapshots/v1.json",
        structured=False,
    )
    style: str = opt(
        "graph",
        "graph | layered | lenet | neurons",
        "Drawing style: `graph` (Graphviz), `layered` (3D boxes sized by tensor shape), "
        "`lenet` (stacks of feature-map planes) or `neurons` (columns of neurons with their "
        "connections, for small dense and convolutional models).",
        _choice("graph", "layered", "lenet", "neurons"),
        stage=RENDER,
        example="layered",
    )
    color_map: dict[str, dict[str, str]] = opt(
        {},
        "mapping",
        "(layered, lenet) Colours per layer type (class or function name): "
        "a fill, or `{fill, outline}`.",
        _color_map,
        stage=RENDER,
        example="{Conv2d: '#56b4e9', Linear: {fill: orange, outline: '#000000'}}",
        colors=True,
    )
    palette: str | list[str] = opt(
        "okabe-ito",
        "palette name | list of colours",
        "(layered, lenet) Fill colours given to layer types in order of appearance: "
        "`okabe-ito`, `tol-bright`, `tol-light` and `tol-muted` are colour-blind safe; "
        "VisualTorch's names (`okabe_ito`, `tab10`, `grayscale`, `nord`, `dracula`, "
        "`gruvbox`, `solarized`, `material`, `catppuccin`) work too.",
        _palette,
        stage=RENDER,
        example="tab10",
        colors=True,
    )
    opacity: float = opt(
        1.0,
        "0..1",
        "(layered, lenet) Opacity of layer fills (0-255 is read as VisualTorch's scale).",
        _opacity,
        stage=RENDER,
        example="0.7",
    )
    spacing: float | None = opt(
        None,
        "px (default: 12 layered, 32 lenet, 90 neurons)",
        "(layered, lenet, neurons) Space between layers.",
        _optional_pixels,
        stage=RENDER,
        example="20",
    )
    draw_volume: bool = opt(
        True,
        "bool",
        "(layered) Draw 3D boxes; false draws flat rectangles.",
        _bool,
        stage=RENDER,
        example="false",
    )
    draw_funnel: bool = opt(
        True,
        "bool",
        "(layered, lenet) Draw funnels between consecutive layers.",
        _bool,
        stage=RENDER,
        example="false",
    )
    show_dimension: bool = opt(
        True,
        "bool",
        "(layered, lenet) Label each layer with its output shape `CxHxW`.",
        _bool,
        stage=RENDER,
        example="false",
    )
    legend_position: str = opt(
        "bottom",
        "bottom | top | right | left",
        "(layered, lenet) Where the legend goes.",
        _choice("bottom", "top", "right", "left"),
        stage=RENDER,
        example="right",
    )
    type_ignore: tuple[str, ...] = opt(
        (),
        "names",
        "(layered, lenet) Layer types not to draw (class or function names, "
        "any case; `Input` drops the inputs).",
        _type_names,
        stage=RENDER,
        example="[ReLU, Flatten]",
    )
    size_scale: str = opt(
        "sqrt",
        "linear | sqrt | log",
        "(layered, lenet) How heights and depths grow with a tensor's spatial size or "
        "feature count. When sizes would pass `max-xy` or fall under `min-xy`, the whole "
        "range is fitted between them instead of clipped, so the largest layer is still the "
        "tallest and the smallest the shortest.",
        _choice("linear", "sqrt", "log"),
        stage=RENDER,
        example="linear",
    )
    scale_xy: float = opt(
        1.0,
        "number",
        "(layered, lenet) Multiplier for heights and depths (spatial sizes).",
        _scale,
        stage=RENDER,
        example="0.8",
    )
    scale_z: float = opt(
        1.0,
        "number",
        "(layered, lenet) Multiplier for widths (channels; plane offsets in lenet).",
        _scale,
        stage=RENDER,
        example="1.5",
    )
    min_xy: float = opt(
        12.0,
        "px",
        "(layered, lenet) Smallest height/depth of a layer.",
        _pixels,
        stage=RENDER,
        example="8",
    )
    max_xy: float = opt(
        200.0,
        "px",
        "(layered, lenet) Largest height/depth of a layer.",
        _pixels,
        stage=RENDER,
        example="300",
    )
    min_z: float = opt(
        10.0,
        "px",
        "(layered) Smallest width of a layer.",
        _pixels,
        stage=RENDER,
        example="4",
    )
    max_z: float = opt(
        80.0,
        "px",
        "(layered, lenet) Largest width of a layer; in lenet, the deepest stack of planes.",
        _pixels,
        stage=RENDER,
        example="120",
    )
    low_dim_orientation: str = opt(
        "y",
        "x | y | z",
        "(layered) Axis along which 1-D outputs (features) are drawn: `y` "
        "tall, `z` wide, `x` deep.",
        _choice("x", "y", "z"),
        stage=RENDER,
        example="z",
    )
    max_neurons: int = opt(
        10,
        "int",
        "(neurons) Most units drawn in one column; a wider layer shows its first and last "
        "units around an ellipsis.",
        _int(3, 256),
        stage=RENDER,
        example="16",
    )
    max_channels: int = opt(
        16,
        "int",
        "(lenet) Most planes drawn for one feature map.",
        _int(1, 1024),
        stage=RENDER,
        example="32",
    )
    font_size: float = opt(
        12.0,
        "px",
        "(layered, lenet) Size of labels and legend text.",
        _font_size,
        stage=RENDER,
        example="14",
    )
    background: str = opt(
        "transparent",
        "colour | transparent",
        "Background colour (`#hex` or a CSS name). A transparent figure follows the "
        "page's light or dark theme; a painted one keeps its colours.",
        _background,
        stage=RENDER,
        example="'#222222'",
        structured=False,
    )
    text_color: str | None = opt(
        None,
        "colour (default: contrast with background)",
        "Colour of labels and legend text (on the graph style: of cluster and edge labels). "
        "Unset, it is the theme's ink, or whichever of the light and dark ink reads better "
        "on `background`.",
        _optional_color,
        stage=RENDER,
        example="white",
        structured=False,
    )
    line_color: str | None = opt(
        None,
        "colour (default: contrast with background)",
        "Colour of connectors, funnels and edges; unset, chosen like `text-color`.",
        _optional_color,
        stage=RENDER,
        example="'#888888'",
        structured=False,
    )
    font_family: str = opt(
        "sans-serif",
        "sans-serif | serif | monospace",
        "Typeface of the labels: Helvetica, Times or Courier metrics (also `helvetica`, "
        "`times`, `courier`), the families both Graphviz engines measure correctly.",
        _font_family,
        stage=RENDER,
        example="serif",
        structured=False,
    )
    print_width: str | None = opt(
        None,
        "printed length",
        "(layered, lenet, neurons) The width the figure is printed at, e.g. `3.3in` for a "
        "single-column paper or `7in` for a double column. The SVG, PNG and PDF come out "
        "that wide; text is enlarged where needed so that it prints at 7 pt or more, and a "
        "chain of layers too long for the column wraps onto more lines.",
        _print_width,
        stage=RENDER,
        example="3.3in",
        structured=False,
    )
    engine: str = opt(
        "auto",
        "auto | dot | graphviz-pure",
        "Graphviz engine. `auto` uses `dot` from PATH when present, else the bundled "
        "`graphviz-pure`.",
        _choice("auto", "dot", "graphviz-pure"),
        stage=RENDER,
        example="graphviz-pure",
    )
    format: str = opt(
        "svg",
        " | ".join(FILE_FORMATS.values()),
        "Output format for files (pages embed SVG): a picture, or an editable drawing "
        "(`drawio` for diagrams.net, `tikz` for LaTeX, `graphml`) that pages offer for "
        "download under the figure.",
        _choice(*FILE_FORMATS.values()),
        stage=RENDER,
        example="png",
    )
    dpi: int = opt(
        150,
        "int",
        "Resolution of PNG output.",
        _int(10, 2400),
        stage=RENDER,
        example="300",
    )
    caption: str | None = opt(
        None,
        "text",
        "Figure caption.",
        _optional_text,
        stage=RENDER,
        example="The recommender.",
        structured=False,
    )
    alt: str | None = opt(
        None,
        "text",
        "Alternative text (also the SVG's title).",
        _optional_text,
        stage=RENDER,
        example="Recommender architecture",
        structured=False,
    )
    name: str | None = opt(
        None,
        "identifier",
        "Label/anchor of the figure for cross-references.",
        _name,
        stage=PAGE,
        example="fig-cnn",
        structured=False,
    )
    align: str | None = opt(
        None,
        "left | center | right",
        "Figure alignment.",
        lambda v: None if v is None else _choice("left", "center", "right")(v),
        stage=PAGE,
        example="center",
        structured=False,
    )
    width: str | None = opt(
        None,
        "length",
        "Figure width (CSS length or percentage).",
        _length,
        stage=PAGE,
        example="80%",
        structured=False,
    )
    css_class: tuple[str, ...] = opt(
        (),
        "class names",
        "Extra CSS classes on the figure.",
        _classes,
        stage=PAGE,
        example="wide",
        structured=False,
        name="class",
    )

    # -- views used by the pipeline

    def stage_dict(self, *stages: str) -> dict[str, Any]:
        """The options of the given stages, by option name (JSON-safe; used in cache keys)."""
        return {
            spec.name: getattr(self, spec.attr) for spec in OPTIONS.values() if spec.stage in stages
        }

    def with_values(self, **changes: Any) -> DiagramOptions:
        return replace(self, **changes)


def _build_specs() -> dict[str, OptionSpec]:
    specs: dict[str, OptionSpec] = {}
    hints = get_type_hints(DiagramOptions)
    for f in fields(DiagramOptions):
        meta = f.metadata
        make_default = cast(Callable[[], Any], f.default_factory)
        default = f.default if f.default is not MISSING else make_default()
        name = meta["name"] or f.name.replace("_", "-")
        specs[name] = OptionSpec(
            name=name,
            attr=f.name,
            type=meta["type"],
            default=default,
            help=meta["help"],
            convert=meta["convert"],
            stage=meta["stage"],
            example=meta["example"],
            structured=meta["structured"],
            colors=meta["colors"],
            flag=hints[f.name] in (bool, bool | None),
        )
    return specs


OPTIONS: dict[str, OptionSpec] = _build_specs()
_ALIASES = {spec.attr: name for name, spec in OPTIONS.items()} | {
    name.replace("-", "_"): name for name in OPTIONS
}
INPUT_OPTIONS = ("input", "inputs", "kwargs", "input-size", "input-factory")


def canonical_name(key: str) -> str:
    """Map an option key (hyphens or underscores) to its schema name, or raise."""
    if not isinstance(key, str):  # a YAML key such as 3 or [a, b]
        raise OptionError(f"option names are text, not {_REPR.repr(key)}")
    if key in OPTIONS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    import difflib  # only a mistyped option needs it

    close = difflib.get_close_matches(key[:100].replace("_", "-"), OPTIONS, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise OptionError(
        f"unknown option {_REPR.repr(key)}{hint} (known options: {', '.join(OPTIONS)})"
    )


def parse_options(
    values: Mapping[str, Any],
    *,
    strings: bool = False,
    defaults: Mapping[str, Any] | None = None,
    require_factory: bool = True,
) -> DiagramOptions:
    """Validate options from a front end into a :class:`DiagramOptions`.

    ``strings=True`` when values come from rST options or CLI flags. ``defaults``
    (already plain values, e.g. ``model_diagram_defaults``) apply underneath.
    """
    merged: dict[str, Any] = {}
    for key, value in (defaults or {}).items():
        spec = OPTIONS[canonical_name(key)]
        merged[spec.attr] = spec.from_value(value)
    for key, value in values.items():
        spec = OPTIONS[canonical_name(key)]
        merged[spec.attr] = spec.from_string(value) if strings else spec.from_value(value)
    options = DiagramOptions(**merged)
    if require_factory and not options.factory:
        raise OptionError("option 'factory' is required: give 'package.module:attr'")
    given = [n for n in INPUT_OPTIONS if getattr(options, OPTIONS[n].attr) is not None]
    exclusive = [n for n in given if n != "kwargs"]
    if (
        len(exclusive) > 1
        or ("input-factory" in given and "kwargs" in given)
        or ("input-size" in given and "kwargs" in given)
    ):
        raise OptionError(
            f"options {', '.join(given)} cannot be combined: use one of input, inputs, "
            "input-size or input-factory (kwargs may join input or inputs)"
        )
    return options


def validate_defaults(values: Any) -> dict[str, Any]:
    """Check a front end's ``defaults`` mapping early (at config time)."""
    if not isinstance(values, Mapping):
        raise OptionError(f"defaults must be a mapping of option names to values, got {values!r}")
    return {canonical_name(k): OPTIONS[canonical_name(k)].from_value(v) for k, v in values.items()}


_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def preload_modules(value: Any) -> tuple[str, ...]:
    """A site's ``preload`` setting: module names, a list or one comma-separated text
    (``-D model_diagram_preload=sklearn,pandas``); each must be installed (its top-level
    package is looked up, never imported, so configuring stays cheap)."""
    import importlib.util

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise OptionError(f"must be a list of module names, got {value!r}")
    names = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    for name in names:
        if not _MODULE.fullmatch(name):
            raise OptionError(f"{name!r} is not a module name")
        top = name.partition(".")[0]
        try:
            found = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise OptionError(f"no module named {top!r} is installed")
    return names


#: diagram options a site may also set outside its defaults, in the spelling of its front
#: end (``model_diagram_engine``, the plugin key ``engine``); deprecated: ``defaults`` is
#: the one way, these keep old configurations building
SHORTHANDS = ("engine", "timeout")


def fold_shorthands(
    defaults: Mapping[str, Any],
    given: Mapping[str, Any],
    *,
    spelled: Callable[[str], str],
    defaults_name: str,
) -> tuple[dict[str, Any], list[str]]:
    """Merge a site's shorthand values (``None``: not set) into its checked ``defaults``.

    The one rule for both front ends: a shorthand is validated like the option, a
    value that differs from the same option in ``defaults`` is an error naming both
    places, and each shorthand given returns a deprecation notice for the front end
    to log.
    """
    merged = dict(defaults)
    notices: list[str] = []
    for name in SHORTHANDS:
        value = given.get(name)
        if value is None:
            continue
        where = spelled(name)
        try:
            checked = OPTIONS[name].from_value(value)
        except DiagramError as exc:
            raise OptionError(f"{where}: {exc.message}") from None
        if name in defaults and defaults[name] != checked:
            raise OptionError(
                f"{where}: {value!r} contradicts {name!r}: {defaults[name]!r} in "
                f"{defaults_name}; set it in one place"
            )
        merged.setdefault(name, checked)
        notices.append(f"{where} is deprecated; set {name!r} in {defaults_name} instead")
    return merged, notices
