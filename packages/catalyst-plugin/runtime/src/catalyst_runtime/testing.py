"""Test helpers for generated services: run the app under real uvicorn, call it over HTTP.

from catalyst_runtime.testing import running_server

def test_hello() -> None:
    with running_server("hello_svc.main:app") as url:
        response = httpx.post(f"{url}/hello", json={"name": "Ada"})
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

__all__ = ["TcpProxy", "free_port", "running_server"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(
    app_path: str,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    startup_timeout: float = 20.0,
    shutdown_timeout: float = 10.0,
    extra_args: Sequence[str] = (),
    log_file: str | os.PathLike[str] | None = None,
    access_log: bool = False,
) -> Iterator[str]:
    """Start ``app_path`` with ``python -m catalyst_runtime.serve`` and yield its base URL.

    The server runs in a subprocess on a free loopback port with this interpreter; ``env`` is
    added to the current environment. It is ready once it answers HTTP (any status). On exit it
    gets SIGTERM (uvicorn then runs the lifespan shutdown) and is killed if it is still running
    ``shutdown_timeout`` seconds later. If it dies or does not answer in time, the error carries
    the end of its log. ``log_file``: where its output goes (default an anonymous temporary
    file), so a test can read what it logged; ``access_log``: a line per request in it.
    """
    port = free_port(host)
    url = f"http://{host}:{port}"
    command = [
        sys.executable, "-m", "catalyst_runtime.serve", app_path,
        "--host", host, "--port", str(port), *(() if access_log else ("--no-access-log",)),
        *extra_args,
    ]  # fmt: skip
    opened = (
        tempfile.TemporaryFile(mode="w+b") if log_file is None else open(log_file, "w+b")  # noqa: SIM115
    )
    with opened as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_answering(process, url, startup_timeout, log)
            yield url
        finally:
            _stop(process, shutdown_timeout)


def _wait_until_answering(
    process: subprocess.Popen[bytes], url: str, timeout: float, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}:\n{_tail(log)}")
        try:
            httpx.get(f"{url}/__catalyst_ready__", timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                # It never came up, so there is nothing to shut down gracefully.
                process.kill()
                process.wait()
                raise TimeoutError(
                    f"server did not answer on {url} within {timeout:g} s:\n{_tail(log)}"
                ) from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-limit:]


class TcpProxy:
    """A TCP proxy on loopback in front of a server (``upstream_url``: PostgreSQL, Redis, ...)
    that can be closed and reopened on the same port: an outage of that server for the service
    behind the proxy only, while the server itself goes on serving everyone else.

        proxy = TcpProxy(redis_url)
        proxy.open()                  # proxy.url: the same URL, on the proxy's port
        proxy.close()                 # connections cut, the port refuses
        proxy.open()                  # back
        proxy.shutdown()
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname is not None and parts.port is not None
        self._target = (parts.hostname, parts.port)
        self.port = free_port()
        userinfo = parts.netloc.rpartition("@")[0]
        address = f"127.0.0.1:{self.port}"
        self.url = parts._replace(netloc=f"{userinfo}@{address}" if userinfo else address).geturl()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def open(self) -> None:
        self._call(self._open())

    def close(self) -> None:
        self._call(self._close())

    def shutdown(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
