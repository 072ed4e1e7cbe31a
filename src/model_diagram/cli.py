"""``model-diagram``: the command line over the same core as the docs front ends.

    model-diagram render FACTORY [--OPTION VALUE ...] -o OUT(.svg|.png|.pdf|.json)
    model-diagram diff OLD NEW [--OPTION VALUE ...] [-o OUT(.svg|.png|.pdf|.html)]
    model-diagram cache info|clear|prune [--cache-dir DIR|URL] [--older-than 30d]

One flag per schema option; structured values are YAML flow / JSON, e.g.
``--kwargs '{input_ids: "long[1,16](0,1000)"}'``. A ``.json`` output is an
architecture snapshot; ``diff`` compares two factories or snapshots and exits
0 when they are the same architecture, 1 when they differ and 2 on an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from . import diffdraw, snapshot
from .api import Diagram, output_format
from .diff import compare
from .errors import DiagramError, OptionError
from .layergraph import LayerGraph
from .options import OPTIONS, DiagramOptions, parse_options, writable_formats
from .pipeline import DEFAULT_CACHE_DIR, Pipeline, Result
from .remote import MODE_ENV, MODES
from .rendering import standalone_svg

#: ``diff``'s own options, not the drawing's
_DIFF_ONLY = {"compare-to"}


def _add_options(parser: argparse.ArgumentParser, skip: set[str]) -> None:
    _cache_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log cache hits and traces")
    for name, spec in OPTIONS.items():
        if name == "factory" or name in skip:
            continue
        help_text = f"{spec.help} [{spec.type}; default: {spec.default!r}]"
        if spec.flag:
            parser.add_argument(f"--{name}", nargs="?", const="true", help=help_text)
        else:
            parser.add_argument(f"--{name}", metavar=spec.type.split()[0].upper(), help=help_text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-diagram", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="draw one model into a file, or snapshot it")
    render.add_argument("factory", help=OPTIONS["factory"].help)
    render.add_argument(
        "-o",
        "--output",
        required=True,
        help=f"output file: {writable_formats()}; or .json, an architecture snapshot; "
        ".html, a standalone explorer",
    )
    _add_options(render, set())
    diff = sub.add_parser(
        "diff",
        help="compare two architectures (exit 0 same, 1 different, 2 error)",
        description="Compare two architectures, each a factory (traced with the options "
        "given) or a snapshot file (.json). Prints a summary; exit status 0 when they "
        "are the same, 1 when they differ, 2 on an error.",
    )
    diff.add_argument("old", help="the earlier version: a factory or a snapshot .json")
    diff.add_argument("new", help="the later version: a factory or a snapshot .json")
    diff.add_argument("-o", "--output", help="also draw the diff (.svg, .png, .pdf, .html)")
    _add_options(diff, _DIFF_ONLY)
    cache = sub.add_parser("cache", help="inspect, empty or prune the cache")
    cache.add_argument("action", choices=["info", "clear", "prune"])
    _cache_arguments(cache)
    cache.add_argument(
        "--older-than",
        default="30d",
        help="prune: drop entries not used for this long (30d, 12h, 90m, 3600s)",
    )
    return parser


def _cache_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache-dir",
        default=DEFAULT_CACHE_DIR,
        help="cache directory, or the URL of a shared store (s3://, gs://, az://, file://)",
    )
    parser.add_argument(
        "--cache-storage-options",
        metavar="MAPPING",
        help="fsspec storage options, JSON or YAML: '{client_kwargs: {endpoint_url: \"...\"}}'",
    )
    parser.add_argument("--cache-mode", choices=MODES, help=f"overrides {MODE_ENV} if unset")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise OptionError(f"--older-than {text!r}: give a number with s, m, h, d or w (30d)")
    return float(match[1]) * _SECONDS[match[2]]


def _pipeline(args: argparse.Namespace) -> Pipeline:
    options: dict[str, Any] = {}
    if args.cache_storage_options:
        try:
            options = yaml.safe_load(args.cache_storage_options)
        except yaml.YAMLError as exc:
            raise OptionError(f"--cache-storage-options is not valid YAML or JSON: {exc}") from None
        if not isinstance(options, dict):
            raise OptionError("--cache-storage-options must be a mapping")
    return Pipeline(args.cache_dir, storage_options=options, mode=args.cache_mode)


def _cache_command(args: argparse.Namespace) -> int:
    try:
        store = _pipeline(args).cache
        for problem in store.take_problems():
            print(f"model-diagram: warning: {problem.message}", file=sys.stderr)
        if args.action == "clear":
            removed = store.clear()
            print(f"cleared {store.root} ({removed} entries)")
        elif args.action == "prune":
            print(json.dumps(store.prune(_duration(args.older_than)), indent=2))
        else:
            print(json.dumps(store.info(), indent=2))
    except DiagramError as exc:
        print(f"model-diagram: error ({exc.kind}): {exc.message}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "cache":
        return _cache_command(args)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    sys.path.insert(0, str(Path.cwd()))
    given = {
        name: value
        for name in OPTIONS
        if name != "factory" and (value := getattr(args, name.replace("-", "_"), None)) is not None
    }
    if args.command == "diff":
        return _diff(args, given)
    out = Path(args.output)
    pipeline = _pipeline(args)
    try:
        options = parse_options({"factory": args.factory, **given}, strings=True)
        # --format wins over the file name; an unwritable name is refused before tracing
        fmt = options.format if "format" in given else output_format(out.name)
        Diagram.of(_traced(pipeline, options, "svg"), options, pipeline).save(out, fmt=fmt)
    except DiagramError as exc:
        print(f"model-diagram: error ({exc.kind}): {exc.message}", file=sys.stderr)
        return 1
    finally:
        pipeline.close()
    print(f"wrote {out} ({'traced' if pipeline.traced else 'from cache'})")
    return 0


def _traced(pipeline: Pipeline, options: DiagramOptions, fmt: str) -> Result:
    result = pipeline.diagram(options, fmt=fmt)
    for warning in result.warnings:
        print(f"model-diagram: warning: {warning.message}", file=sys.stderr)
    for note in result.notes:
        print(f"model-diagram: {note}", file=sys.stderr)
    return result


def _diff(args: argparse.Namespace, given: dict[str, str]) -> int:
    """Exit 0 when the architectures are the same, 1 when they differ, 2 on an error."""
    out = Path(args.output) if args.output else None
    fmt = out.suffix.lower().lstrip(".") if out else ""
    pipeline = _pipeline(args)  # two snapshots never start the worker
    try:
        if out is not None and fmt not in diffdraw.FORMATS:
            raise OptionError(
                f"cannot write {out.name!r}: use a .svg, .png, .pdf or .html file name"
            )
        options = parse_options(given, strings=True, require_factory=False)
        old, new = (_side(pipeline, options, side) for side in (args.old, args.new))
        diff = compare(old, new)
        data = diffdraw.draw(diff, options, fmt) if out is not None else b""
    except DiagramError as exc:
        print(f"model-diagram: error ({exc.kind}): {exc.message}", file=sys.stderr)
        return 2
    finally:
        pipeline.close()
    print(diff.summary())
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(standalone_svg(data.decode()).encode() if fmt == "svg" else data)
        print(f"wrote {out}")
    return 0 if diff.same else 1


def _side(pipeline: Pipeline, options: DiagramOptions, source: str) -> LayerGraph:
    """One side of a diff: a snapshot file (``.json``, or any existing file), else a factory."""
    if _is_file(source):
        return snapshot.load(Path(source))
    traced = options.with_values(factory=OPTIONS["factory"].from_value(source))
    return _traced(pipeline, traced, "svg").graph


def _is_file(source: str) -> bool:
    return source.lower().endswith(".json") or Path(source).is_file()


if __name__ == "__main__":
    sys.exit(main())
