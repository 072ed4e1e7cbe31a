"""fleet: a warm build from a shared S3 store against a warm build from a local cache.

The benchmark site (8 diagrams) caches in ``s3://`` on moto's S3-compatible server,
started here on 127.0.0.1 (a real HTTP server and the real s3fs client; a cloud
store adds its network round trips). A: a fresh runner, warm from the store with
an empty local copy (what every CI run on an ephemeral machine does). C: the same
runner's next build, with the read-through copy kept. B: the same site with a
local cache directory that is already warm. All three trace nothing and never
import torch. Needs the ``s3`` extra and ``moto[server]``.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import harness as h


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    rounds, record, keep = h.cli_args(11, __doc__.splitlines()[0])
    try:
        import s3fs
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        print(f"fleet: needs pip install 'model-diagram[s3]' 'moto[server]' ({exc})")
        return 2
    credentials = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(credentials)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    options = {"client_kwargs": {"endpoint_url": endpoint}}
    s3fs.S3FileSystem(**options).mkdir("bench-fleet")
    env = {**os.environ, **credentials}
    try:
        with h.workdir(keep, "fleet") as root:
            models = h.write_models(root)
            remote = h.write_sphinx_site(root / "remote", models, "s3://bench-fleet/site")  # type: ignore[arg-type]
            with (remote / "conf.py").open("a", encoding="utf-8") as conf:
                conf.write(f"model_diagram_cache_storage_options = {options!r}\n")
            local_cache = root / "local-cache"
            local = h.write_sphinx_site(root / "local", models, local_cache)
            for site in (remote, local):
                primed = h.run(h.sphinx_command(site, root / "prime", "-q"), env=env)
                h.expect(primed.returncode == 0, f"priming build failed:\n{primed.stderr}")
                shutil.rmtree(root / "prime", ignore_errors=True)
            copy = remote / ".model-diagram-cache"

            def check(out: Path):  # type: ignore[no-untyped-def]
                def run(sample: h.Sample) -> None:
                    h.expect(not h.torch_imported(sample), "a warm build imported torch")
                    h.expect("WARNING" not in sample.stderr, f"warned:\n{sample.stderr[-2000:]}")
                    found = h.count_inline_diagrams(out)
                    h.expect(found == h.DIAGRAMS, f"{found} diagrams in {out}")

                return run

            def fresh_runner() -> None:
                shutil.rmtree(root / "out-A", ignore_errors=True)
                shutil.rmtree(copy, ignore_errors=True)

            cases = [
                h.Case(
                    "A",
                    "warm from S3, empty local copy (fresh runner)",
                    h.sphinx_command(remote, root / "out-A", "-q"),
                    env=env,
                    prepare=fresh_runner,
                    check=check(root / "out-A"),
                ),
                h.Case(
                    "B",
                    "warm from a local cache directory",
                    h.sphinx_command(local, root / "out-B", "-q"),
                    env=env,
                    prepare=h.fresh(root / "out-B"),
                    check=check(root / "out-B"),
                ),
                h.Case(
                    "C",
                    "warm from S3, local copy kept",
                    h.sphinx_command(remote, root / "out-C", "-q"),
                    env=env,
                    prepare=h.fresh(root / "out-C"),
                    check=check(root / "out-C"),
                ),
            ]
            results = h.interleave(cases, rounds)
            summaries = h.print_table("warm, Sphinx, shared store", cases, results, rounds)
            a, b, c = summaries["A"], summaries["B"], summaries["C"]
            print(
                f"A/B {a.seconds / b.seconds:.2f} time, {a.peak / b.peak:.2f}x memory; "
                f"C/B {c.seconds / b.seconds:.2f} time"
            )
            if record:
                h.record(
                    [
                        "fleet, Sphinx",
                        "8 diagrams warm from S3 (moto on 127.0.0.1), empty local copy",
                        "same site, warm local cache",
                        f"{a.seconds:.2f} s",
                        f"{b.seconds:.2f} s",
                        f"{a.seconds / b.seconds:.2f}",
                        "reported",
                        h.command_line("fleet.py"),
                    ]
                )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
