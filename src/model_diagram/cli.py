"""``model-diagram``: the command line over the same core as the docs front ends.

    model-diagram render FACTORY [--OPTION VALUE ...] -o OUT
    model-diagram cache info|clear [--cache-dir DIR]

One flag per schema option; structured values are YAML flow / JSON, e.g.
``--kwargs '{input_ids: "long[1,16](0,1000)"}'``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .cache import Cache
from .errors import DiagramError
from .options import OPTIONS, format_of, parse_options, writable_formats
from .output import standalone_svg
from .pipeline import DEFAULT_CACHE_DIR, Pipeline
from .worker import shutdown


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-diagram", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="draw one model into a file")
    render.add_argument("factory", help=OPTIONS["factory"].help)
    render.add_argument("-o", "--output", required=True, help=f"output file: {writable_formats()}")
    render.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR, help="cache directory")
    render.add_argument("-v", "--verbose", action="store_true", help="log cache hits and traces")
    for name, spec in OPTIONS.items():
        if name == "factory":
            continue
        help_text = f"{spec.help} [{spec.type}; default: {spec.default!r}]"
        if spec.type == "bool":
            render.add_argument(f"--{name}", nargs="?", const="true", help=help_text)
        else:
            render.add_argument(f"--{name}", metavar=spec.type.split()[0].upper(), help=help_text)
    cache = sub.add_parser("cache", help="inspect or empty the cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR, help="cache directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "cache":
        store = Cache(Path(args.cache_dir))
        if args.action == "clear":
            store.clear()
            print(f"cleared {store.root}")
        else:
            print(json.dumps(store.info(), indent=2))
        return 0
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    sys.path.insert(0, str(Path.cwd()))
    given = {
        name: value
        for name in OPTIONS
        if name != "factory" and (value := getattr(args, name.replace("-", "_"))) is not None
    }
    out = Path(args.output)
    try:
        options = parse_options({"factory": args.factory, **given}, strings=True)
        fmt = options.format if "format" in given else format_of(out.name)
        pipeline = Pipeline(args.cache_dir)
        result = pipeline.diagram(options, fmt=fmt)
        for warning in result.warnings:
            print(f"model-diagram: warning: {warning.message}", file=sys.stderr)
        for note in result.notes:
            print(f"model-diagram: {note}", file=sys.stderr)
    except DiagramError as exc:
        print(f"model-diagram: error ({exc.kind}): {exc.message}", file=sys.stderr)
        return 1
    finally:
        shutdown()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "svg":
        out.write_text(standalone_svg(result.svg), "utf-8")
    else:
        out.write_bytes(result.data)
    print(f"wrote {out} ({'traced' if pipeline.traced else 'from cache'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
