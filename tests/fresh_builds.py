"""Sphinx and MkDocs builds in a fresh Python process, as a CI job runs them.

A warm build must not import torch or start the worker; only a process of its own
shows that. Each build runs under ``python -c`` with this process's ``sys.path`` and
prints one JSON line, which these helpers return.
Used by test_failure_cache.py and test_fleet_cache.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SPHINX_BUILD = """
import io, json, sys
from sphinx.application import Sphinx
out = io.StringIO()
app = Sphinx(sys.argv[1], sys.argv[1], sys.argv[2], sys.argv[2] + "-doctrees", "html",
             status=out, warning=out)
app.build()
started = app.env.model_diagram_build.pipeline.worker_started
print(json.dumps({"torch": "torch" in sys.modules, "workers": int(started),
                  "status": app.statuscode, "log": out.getvalue()}))
"""

MKDOCS_BUILD = """
import json, logging, sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
records = []
handler = logging.Handler()
handler.emit = lambda record: records.append(record.getMessage())
logging.getLogger("mkdocs.plugins.model_diagram").addHandler(handler)
config = load_config(config_file=sys.argv[1])
build(config)
plugin = config.plugins["model-diagram"]
print(json.dumps({"traced": plugin.pipeline.traced, "torch": "torch" in sys.modules,
                  "worker": plugin.pipeline._worker is not None,
                  "warnings": [r for r in records if "[model_diagram." in r]}))
"""


def environment(**extra: str) -> dict[str, str]:
    """This process's environment (a test server's credentials included) and sys.path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **extra}


def run_sphinx(src: Path, out: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build ``src`` into ``out`` (doctrees beside it, so every page is read):
    ``torch``, ``workers`` (0 or 1), ``status`` and the whole ``log``."""
    return _run(SPHINX_BUILD, [str(src), str(out)], env)


def run_mkdocs(config: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the site of ``config``: ``traced``, ``torch``, ``worker`` and the typed
    ``warnings`` of the plugin's log."""
    return _run(MKDOCS_BUILD, [str(config)], env)


def _run(script: str, args: list[str], env: dict[str, str] | None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env or environment(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
