"""First start: seconds from ``lucy serve`` to a 200 from ``/readyz`` on a fresh machine.

Run from the repository root::

    .venv/bin/python bench/first_start.py [--runs 1]

Each run starts ``lucy serve`` (the installed command, as ``make serve`` does) with an empty
``LUCY_DATA_DIR`` and an empty ``LUCY_MODEL_CACHE_DIR``, so it pays for everything a fresh
clone pays for after the install: the imports, the ONNX export of the model, the build of the
demo catalog and the server's start. ``/readyz`` is polled every 0.1 s; the server is stopped
after it answers. Prints one line per run and the build line ``lucy serve`` printed.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def one_start() -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="lucy-first-start-") as tmp:
        port = free_port()
        # the embedded defaults, as on a fresh machine: no Redis, Qdrant server or database URL
        kept = {k: v for k, v in os.environ.items() if not k.startswith("LUCY_")}
        env = {
            **kept,
            "HF_HUB_OFFLINE": "1",
            "LUCY_DATA_DIR": str(Path(tmp) / "data"),
            "LUCY_MODEL_CACHE_DIR": str(Path(tmp) / "models"),
            "LUCY_PORT": str(port),
        }
        log = Path(tmp) / "serve.log"
        lucy = Path(sys.executable).parent / "lucy"
        started = time.perf_counter()
        with log.open("w") as out:
            server = subprocess.Popen([str(lucy), "serve"], env=env, stdout=out, stderr=out)
        try:
            with httpx.Client(timeout=1.0, trust_env=False) as client:
                while time.perf_counter() - started < TIMEOUT_S:
                    if server.poll() is not None:
                        raise RuntimeError(f"lucy serve exited: {log.read_text()[-2000:]}")
                    try:
                        if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                else:
                    raise TimeoutError(f"/readyz did not answer 200 within {TIMEOUT_S:.0f} s")
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        built = next((line for line in log.read_text().splitlines() if "built " in line), "")
        return seconds, built.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1, help="fresh starts to time")
    args = parser.parse_args(argv)
    for run in range(1, args.runs + 1):
        seconds, built = one_start()
        print(f"run {run}: ready after {seconds:.1f} s  ({built})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
