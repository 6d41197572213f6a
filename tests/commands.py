"""The `framestate` command as a user runs it, for the tests of what it says when something is wrong:
a subprocess with none of the tests' `FRAMESTATE_*` settings but the ones a test gives, and the
check that it ended with one or two clean lines."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import ROOT

CLI = [sys.executable, "-m", "service.commands.cli"]
INTERRUPTED = (130, -signal.SIGINT)
"""Ctrl-C: exit status 130, or, when Python itself ends the process by the signal (as it does when
the interrupt came through some C extension's initialisation), death by SIGINT: 130 to a shell too."""


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAMESTATE_")}
    return {**clean, **(env or {})}


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def started(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """The command running in the background (stdin closed: no terminal to ask on); killed if the
    test leaves it running."""
    process = subprocess.Popen(
        [*CLI, *args],
        cwd=ROOT,
        env=environment(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def interrupt(process: subprocess.Popen[str], *, timeout: float = 30) -> tuple[int, str, str]:
    """Ctrl-C: SIGINT, then what the command said and its exit status."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for_line(process: subprocess.Popen[str], words: str, *, timeout: float = 30) -> list[str]:
    """Read standard output until a line holds `words`; the lines read."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if words in line:
            return lines
    raise AssertionError(f"no line with {words!r} in:\n{''.join(lines)}")


def assert_said(
    result: tuple[int, str, str] | subprocess.CompletedProcess[str],
    status: int | tuple[int, ...],
    *words: str,
) -> str:
    """The command ended with `status`, with no traceback, in at most two lines on standard error
    that hold every one of `words`; that text."""
    if isinstance(result, subprocess.CompletedProcess):
        returncode, out, err = result.returncode, result.stdout, result.stderr
    else:
        returncode, out, err = result
    said = f"{out}\n{err}"
    assert "Traceback" not in said, said
    assert returncode in (status if isinstance(status, tuple) else (status,)), said
    errors = [line for line in err.splitlines() if line.startswith("framestate")]
    assert len(errors) <= 2, err
    for word in words:
        assert word in err, f"{word!r} not in: {err}"
    return err
