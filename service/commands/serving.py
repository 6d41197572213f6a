"""`framestate serve`: uvicorn, in one process or several, with a shutdown that ends event streams.

uvicorn's own shutdown stops accepting, then waits for every connection to close before it tells
the application; an event stream never closes by itself, so the application would hear of the
shutdown only once the grace period had run out. So the application uvicorn serves chains its own
step onto uvicorn's signal handlers: the signal first drains the application (`lifecycle.drain`:
not ready, every event stream ended), and uvicorn then stops accepting and waits for the requests
in flight, for the grace period less a reserve for the application's own shutdown.
"""

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from types import FrameType
from typing import Any

import uvicorn
from litestar import Litestar
from uvicorn.supervisors.multiprocess import Multiprocess

from service import lifecycle
from service.http.connections import CappedH11Protocol
from service.logs import logging_config
from service.settings import Settings

APP_FACTORY = f"{__name__}:served_app"
GC_YOUNG_FACTOR = 10
SIGNALS = (signal.SIGINT, signal.SIGTERM)
log = logging.getLogger("framestate")


def served_app() -> Litestar:
    """The application as uvicorn loads it, in each worker process: settings from the environment,
    and draining on SIGTERM and SIGINT."""
    from service.http.app import create_app

    settings = Settings.from_env()
    _drain_on_signals(asyncio.get_running_loop(), settings.shutdown_grace_s)
    app = create_app(settings)
    app.on_startup.append(freeze_heap)
    return app


def freeze_heap(_app: Litestar) -> None:
    """Keep the cyclic garbage collector's full passes short and rare: each stalls every request
    and stream of the process while it walks the heap. Once the application has started, what it
    has built (modules, routes, tables, the state machine, the OpenAPI document, pools) lives as
    long as the process: frozen, it is out of the collector's sight, so a pass walks only what
    requests made since. Requests leave no reference cycles (everything they make is freed by
    reference counting), so the young generation is collected ten times less often than Python's
    default, and the full passes with it."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young * GC_YOUNG_FACTOR, middle, old)


def _drain_on_signals(loop: asyncio.AbstractEventLoop, grace_s: float) -> None:
    """Run `lifecycle.drain` on the loop, then uvicorn's own handler (installed before the
    application is loaded, and put back by uvicorn when it stops)."""
    tasks: set[asyncio.Task[None]] = set()
    watchdog = threading.Timer(grace_s, _out_of_grace)
    watchdog.daemon = True

    def start_draining() -> None:
        task = loop.create_task(lifecycle.drain())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for sig in SIGNALS:
        uvicorns = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, uvicorns: Any = uvicorns) -> None:
            if not watchdog.is_alive():
                watchdog.start()
                loop.call_soon_threadsafe(start_draining)
            if callable(uvicorns):
                uvicorns(signum, frame)

        signal.signal(sig, handler)


def _out_of_grace() -> None:
    """The grace period is over and the process still runs: something waits that cancelling does
    not stop (a SQLite call waiting for another process's lock, in its driver's thread). What was
    not committed is rolled back when the process ends."""
    log.warning("the shutdown grace period is over; exiting with work cut off (nothing of it committed)")
    logging.shutdown()
    os._exit(0)


def in_flight_grace(settings: Settings) -> float:
    """The part of the grace period that requests in flight get; the rest is the application's."""
    return settings.shutdown_grace_s - min(2.0, settings.shutdown_grace_s / 4)


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    """uvicorn raises the signal again once it has stopped gracefully, which would make the exit
    status 143: the signal asked for a graceful stop and got one."""
    sys.exit(0)


class WorkerListener(socket.socket):
    """The port of `serve --workers N`, held by the supervisor: bound with SO_REUSEPORT, so that a
    port taken by another program stops the start, but never listening. Each worker it is handed to
    receives a listening socket of its own on the same port instead of a copy of this one, so the
    kernel spreads new connections evenly over the workers. On one shared socket, the worker that
    happens to wake first accepts a whole burst (asyncio accepts up to the backlog at once), and
    eight benchmark connections landed on one worker of two while the other idled.

    The workers' sockets say IPPROTO_TCP, so asyncio also turns Nagle's algorithm off on their
    connections (see `service.http.connections.no_delay`)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (reuse_port_socket, (self.family, self.getsockname()[:2]))


def reuse_port_socket(family: int, address: tuple[str, int], cls: type[socket.socket] = socket.socket) -> Any:
    sock = cls(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": settings.log_level.lower(),
        "log_config": logging_config(settings),
        "access_log": False,  # framestate writes its own access lines, with the request id
        "http": CappedH11Protocol,
        "proxy_headers": False,
        "timeout_graceful_shutdown": in_flight_grace(settings),  # any number, not only an int
    }
    metrics_dir = None
    if workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="framestate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # the workers sum their metrics there
    signal.signal(signal.SIGTERM, _stopped)
    try:
        if workers == 1:
            uvicorn.run(APP_FACTORY, **options)
        else:
            config = uvicorn.Config(APP_FACTORY, **options)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = reuse_port_socket(family, (host, port), WorkerListener)
            log.info("serving on http://%s:%d with %d worker processes", host, port, workers)
            with contextlib.suppress(KeyboardInterrupt):
                Multiprocess(config, sockets=[listener]).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
