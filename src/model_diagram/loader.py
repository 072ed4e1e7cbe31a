"""Import a factory (``pkg.module:attr``) and record what the import depended on.

Runs in the worker. The dependency record (project source files with their
content hashes, installed distributions with their versions) goes into the
cache manifest, so a warm lookup can re-hash files without importing anything.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import inspect
import re
import site
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any

from .errors import FactoryError

_OWN_DIR = Path(__file__).resolve().parent


@cache
def _library_roots() -> tuple[Path, ...]:
    """Directories whose files are not the user's project (stdlib, site-packages, us)."""
    paths = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    roots = {Path(p).resolve() for p in paths if p}
    roots.add(_OWN_DIR)
    return tuple(sorted(roots))


def is_project_file(path: Path) -> bool:
    """True for source files of the user's project, the ones whose edits must invalidate."""
    if any(part in {"site-packages", "dist-packages"} for part in path.parts):
        return False
    return not any(path.is_relative_to(root) for root in _library_roots())


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def _real_directory(directory: Path) -> Path:
    return directory.resolve()


def _resolved(filename: str) -> Path:
    """``Path(filename).resolve()`` with one system call, not one per component: a module
    file's directory is resolved once for all its siblings (torch has a thousand files
    in a hundred directories; the worker classifies them all before its first trace)."""
    path = Path(filename)
    if path.is_symlink():
        return path.resolve()
    return _real_directory(path.parent) / path.name


@cache
def _project_source(filename: str) -> Path | None:
    """The resolved path of a module file if it is project source (classified once).

    Not a file: ``torch.ops`` claims ``__file__ = "_ops.py"``, relative to nothing.
    """
    path = _resolved(filename)
    return path if path.suffix == ".py" and is_project_file(path) and path.is_file() else None


def project_modules(names: Iterable[str] | None = None) -> dict[str, Path]:
    """Modules now imported (of ``names``, default all) whose source is a project file."""
    found: dict[str, Path] = {}
    for name in list(sys.modules) if names is None else names:
        filename = getattr(sys.modules.get(name), "__file__", None)
        path = _project_source(filename) if isinstance(filename, str) else None
        if path is not None:
            found[name] = path
    return found


def forget_project_modules() -> None:
    """Drop project modules so the next job imports the files as they are now."""
    for name in project_modules():
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


#: (resolved path, sha256 of the source) -> its code, compiled by the worker's parent for
#: the children it forks later (see :func:`compile_for_children`)
_COMPILED: dict[tuple[str, str], CodeType] = {}


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compile project files from source, never from ``__pycache__``.

    A ``.pyc`` is trusted when the source's mtime (in seconds) and size match,
    so an edit within the same second that keeps the size would load stale
    code, and the cache would store the old graph under the new file's hash.
    Code the parent compiled from the same bytes is used as it is.
    """

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        key = (str(_resolved(path)), hashlib.sha256(source).hexdigest())
        code = _COMPILED.get(key)
        if code is not None and code.co_filename == path:
            return code
        return self.source_to_code(source, path)


#: the largest project file the parent compiles for its children
COMPILE_LIMIT = 8 * 1024**2


def compile_for_children(files: Mapping[str, str]) -> None:
    """In the worker's parent: compile the project files a child reported (path ->
    sha256), so the children forked later skip compiling them (a library of a few
    hundred KiB costs each child tens of milliseconds). Each child still reads every
    source and uses this code only for the bytes it was compiled from.

    The report comes from a process that ran the model's code: only project ``.py``
    files are read, and only regular ones of bounded size (a FIFO would block)."""
    from .cache import read_regular  # the parent only; reads without ever blocking

    for name, expected in files.items():
        if not isinstance(expected, str) or (name, expected) in _COMPILED:
            continue
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            if str(_project_source(name)) != name:  # a project file, named as resolved
                continue
            source = read_regular(Path(name), COMPILE_LIMIT, follow=True)
            if source is not None and hashlib.sha256(source).hexdigest() == expected:
                _COMPILED[name, expected] = compile(source, name, "exec", dont_inherit=True)


class _FreshProjectFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        origin = getattr(spec, "origin", None)
        if (
            spec is not None
            and isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            and origin
            and _project_source(origin) is not None
        ):
            spec.loader = _FreshSourceLoader(fullname, origin)
        return spec


def import_project_files_fresh() -> None:
    """Make the worker read project modules from source (installed once)."""
    if not any(isinstance(f, _FreshProjectFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FreshProjectFinder())


def loaded_before() -> set[str]:
    """The modules loaded now, as a job's baseline: none can be its dependency, except
    project modules (normally none: a ``.pth`` file could import one), which every job
    checks again."""
    project = project_modules()  # first: classifying files may import (sysconfig's data)
    return set(sys.modules) - set(project)


#: packages whose versions (or code) are part of every cache key already
KEYED = frozenset({"torch", "torchview", "model_diagram"})
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@cache
def torch_own_tops() -> frozenset[str]:
    """Top-level names that are never a model's dependency: :data:`KEYED` and what
    torch requires, directly or through its requirements (sympy and mpmath, networkx,
    ...). torch imports those lazily, inside a child (the meta device's shape checks
    load sympy), and they do not shape a drawing; naming their versions would cost
    such a diagram the 0.4 s map of installed distributions."""
    return frozenset(KEYED | _required_closure(["torch"]))


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


@cache
def _required(dist: str) -> tuple[str, ...]:
    """The distributions ``dist`` requires (extras left out), names normalised."""
    found = []
    with contextlib.suppress(Exception):  # no metadata: nothing
        for requirement in importlib.metadata.requires(dist) or ():
            match = _REQUIREMENT.match(requirement)
            if match and "extra ==" not in requirement:
                found.append(_normal(match[0]))
    return tuple(found)


def _required_closure(dists: Iterable[str], limit: int = 100) -> set[str]:
    """Every distribution that ``dists`` require, directly or not (at most ``limit``)."""
    names: set[str] = set()
    queue = [_normal(d) for d in dists]
    while queue and len(names) < limit:
        for name in _required(queue.pop()):
            if name not in names:
                names.add(name)
                queue.append(name)
    return names


@cache
def distributions_by_top_level(path: tuple[str, ...]) -> dict[str, list[str]]:
    """Top-level module name -> the distributions installed on ``path`` that provide it."""
    with _searching(path):
        return {k: sorted(set(v)) for k, v in importlib.metadata.packages_distributions().items()}


@contextlib.contextmanager
def _searching(path: tuple[str, ...]) -> Iterator[None]:
    """importlib.metadata looks on ``sys.path``: here, on the job's (the worker's
    parent answers for children whose path it extended)."""
    saved = sys.path[:]
    sys.path[:] = path
    try:
        yield
    finally:
        sys.path[:] = saved


@dataclass(frozen=True)
class Loaded:
    """What ``sys.modules`` held when a forked child started: its newest entry (name and
    module), the names not in the job's baseline (project modules the parent loaded,
    normally none), and the packages the parent preloaded for every job, which each
    job reports as its own."""

    newest: str
    module: Any
    outside: tuple[str, ...]
    preloaded: tuple[str, ...] = ()

    @classmethod
    def now(cls, baseline: set[str], preloaded: Iterable[str] = ()) -> Loaded:
        newest = next(reversed(sys.modules))
        outside = tuple(n for n in sys.modules if n not in baseline)
        return cls(newest, sys.modules[newest], outside, tuple(preloaded))

    def since(self) -> list[str]:
        """Names loaded after this snapshot, newest first, walking back from the end of
        ``sys.modules`` (a dict keeps insertion order): a forked child that read every
        name would copy the memory pages of torch's thousand names (2.6 ms a diagram).
        The walk stops at the snapshot's newest entry only while it holds the same
        module: one a job removed (and maybe imported again, at the end) means every
        name is read."""
        found: list[str] = []
        for name in reversed(sys.modules):
            if name == self.newest and sys.modules.get(name) is self.module:
                return found
            found.append(name)
        return found


def dependencies(
    baseline: set[str], loaded: Loaded | None = None
) -> tuple[dict[str, str], list[str]]:
    """Project files (path -> sha256) now loaded, and the top-level names of the other
    packages loaded (:func:`distributions` names their versions).

    ``baseline`` holds the modules the worker imported for itself (torch,
    torchview; see :func:`loaded_before`); their versions are part of every cache
    key already. ``loaded``: what was loaded when this forked child started, so only
    the names added since are read. Only names are compared: in a forked child,
    touching the thousand module objects would copy their memory pages.
    """
    if loaded is None:
        names = list(sys.modules)
    else:
        names = [n for n in loaded.outside if n in sys.modules] + loaded.since()
    new = [name for name in dict.fromkeys(names) if name not in baseline]
    project = project_modules(new)
    files = {str(path): file_digest(path) for path in project.values()}
    tops = third_party_tops(new, project)
    if loaded is not None:
        tops.update(loaded.preloaded)
    return dict(sorted(files.items())), sorted(tops)


def third_party_tops(names: Iterable[str], project: Iterable[str] = ()) -> set[str]:
    """The top-level names of modules ``names`` that are neither the project's
    (``project``: its module names), the standard library's, nor :data:`KEYED` (a
    submodule of torch imported by a trace is no new dependency)."""
    tops = {name.partition(".")[0] for name in names}
    tops -= {name.partition(".")[0] for name in project} | set(sys.stdlib_module_names)
    return tops - KEYED


def distributions(tops: list[str], path: tuple[str, ...]) -> dict[str, str]:
    """The distributions (name -> version) installed on ``path`` that provide ``tops``.

    Mapping modules to distributions reads every installed distribution's file
    list (0.4 s): the worker's parent does it once, for the first reply that needs it.
    """
    tops = [top for top in tops if top not in torch_own_tops()] if tops else []
    by_top = distributions_by_top_level(path) if tops else {}
    dists: dict[str, str] = {}
    with _searching(path):
        for top in sorted(tops):
            for dist in by_top.get(top, ()):
                try:
                    dists[dist] = importlib.metadata.version(dist)
                except importlib.metadata.PackageNotFoundError:
                    continue
    return dists


def installed_packages(tops: list[str], path: tuple[str, ...]) -> list[str]:
    """What a site could ``preload`` for a model that loaded ``tops``: those an
    installed distribution provides (a compiled module's internal names, such as
    ``_cython_3_2_4``, belong to none), torch's own requirements left out, and only
    the ones no other of them requires (torch-rechub, not the scikit-learn and pandas
    it imports)."""
    by_top = distributions_by_top_level(path) if tops else {}
    found = [top for top in tops if top in by_top and top not in torch_own_tops()]
    with _searching(path):
        implied = _required_closure(d for top in found for d in by_top[top])
    roots = [top for top in found if not {_normal(d) for d in by_top[top]} & implied]
    return sorted(roots or found)


@cache
def _stdlib_roots() -> tuple[Path, ...]:
    paths = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib")}
    return tuple(sorted(Path(p).resolve() for p in paths if p))


def _defining_file(obj: Any) -> Path | None:
    """The source file of the module that defines ``obj`` (None: builtin, frozen, unknown).

    Follows ``functools.partial`` and bound methods to what they call, and a callable
    instance to its class, so a re-export (``from os import system as make``) or a
    wrapper (``partial(subprocess.run, ...)``) names the module that really defines it.
    """
    seen = 0
    while seen < 100:  # a partial of a partial of ...: bounded
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        else:
            break
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
        obj = type(obj)
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve() if isinstance(filename, str) else None


def _refusal(path: str, where: str) -> FactoryError:
    return FactoryError(
        f"refusing to call {path!r}: it is defined {where}, and a page may only name "
        "a model factory or nn.Module of the project or of an installed third-party "
        "package (see the security notes of the docs)"
    )


def check_callable(path: str, obj: Any) -> None:
    """Refuse, before any call, what the standard library, builtins or model-diagram define.

    Page authors name factories; without this ``os:system`` with ``factory-kwargs:
    {command: ...}`` would run a shell command at build time. Decided by where the
    object is defined, not by the name the page gave.
    """
    file = _defining_file(obj)
    if file is None:
        raise _refusal(path, "by the Python interpreter (a builtin)")
    if file.is_relative_to(_OWN_DIR):
        raise _refusal(path, "by model-diagram itself")
    third_party = any(part in {"site-packages", "dist-packages"} for part in file.parts)
    if not third_party and any(file.is_relative_to(root) for root in _stdlib_roots()):
        raise _refusal(path, "in the Python standard library")


def import_object(path: str) -> Any:
    """Resolve ``package.module:attr.sub``; errors say what is missing and where to look.

    A standard-library module is refused before it is imported (``antigravity``
    opens a browser when imported).
    """
    module_name, _, attr_path = path.partition(":")
    top = module_name.partition(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        raise _refusal(path, "in the Python standard library")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise FactoryError(
            f"cannot import {path!r} ({exc}); is the package importable from the docs "
            "configuration's sys.path?",
            detail=traceback.format_exc(),
            cacheable=False,
        ) from None
    except Exception as exc:  # the user's module raised while importing
        raise FactoryError(
            f"importing module {module_name!r} raised {type(exc).__name__}: {exc}"
            f"{user_location(exc)}",
            detail=traceback.format_exc(),
            cacheable=False,  # the failed module left sys.modules: its file is not listed
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise FactoryError(
                f"cannot import {path!r}: {type(obj).__name__} {getattr(obj, '__name__', '')!r}"
                f" has no attribute {part!r}"
            ) from None
    return obj


def call_factory(path: str, factory: Any, kwargs: dict[str, Any]) -> Any:
    """Build the model from a function, a class or an instance, and check it is a Module."""
    import torch

    if isinstance(factory, torch.nn.Module):
        if kwargs:
            raise FactoryError(f"{path!r} is a module instance; it takes no factory-kwargs")
        model = factory
    elif callable(factory):
        check_callable(path, factory)
        try:
            model = factory(**kwargs)
        except Exception as exc:
            raise FactoryError(
                f"factory {path!r} raised {type(exc).__name__}: {exc}{user_location(exc)}",
                detail=traceback.format_exc(),
            ) from None
    else:
        raise FactoryError(
            f"{path!r} is a {type(factory).__name__}, not a callable returning an nn.Module"
        )
    if not isinstance(model, torch.nn.Module):
        error = FactoryError(
            f"factory {path!r} returned {type(model).__name__}, expected a torch.nn.Module"
        )
        error.final = True  # never called again on CPU
        raise error
    return model


def user_location(exc: BaseException) -> str:
    """`` (at file:line in func: code)`` for the innermost frame in the user's project."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename and is_project_file(Path(f.filename).resolve())
    ]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": {frame.line.strip()}" if frame.line else ""
    return f" (at {frame.filename}:{frame.lineno} in {frame.name}{code})"


def load_callable(path: str) -> Callable[..., Any]:
    obj = import_object(path)
    if not callable(obj):
        raise FactoryError(f"{path!r} is a {type(obj).__name__}, not a callable")
    check_callable(path, obj)
    return obj  # type: ignore[no-any-return]
