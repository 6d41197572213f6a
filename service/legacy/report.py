"""What an import says: the JSON Lines report (`--report FILE`, one line per legacy project), the
summary on standard output (what a person reads first: how many statuses lie today, and how), and
the progress line on standard error."""

import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import msgspec

from service.legacy.errors import CannotRun
from service.legacy.outcomes import APPLY_OUTCOMES, DRY_RUN_OUTCOMES, Outcome
from service.legacy.plan import Planned

_encoder = msgspec.json.Encoder()


class ReportLine(msgspec.Struct):
    id: str | None
    legacy_status: str | None
    status: str | None
    agrees: bool
    outcome: str
    problems: list[str]


class Report:
    """The tally of every line, and the report file when one was asked for."""

    def __init__(self, path: Path | None, *, apply: bool) -> None:
        self.apply = apply
        self.read = 0
        self.agree = 0
        self.missing = 0
        self.disagreements: Counter[tuple[str, str]] = Counter()
        self.outcomes: Counter[Outcome] = Counter()
        self._file: IO[bytes] | None = None
        if path is not None:
            try:
                self._file = path.open("wb")
            except OSError as exc:
                raise CannotRun(f"--report {path}: cannot be written ({exc.strerror or exc})") from None

    def add(self, planned: Planned, outcome: Outcome, refused: str | None = None) -> None:
        problems = [*planned.problems, refused] if refused else planned.problems
        if planned.exists:
            self.read += 1
            if planned.agrees:
                self.agree += 1
            elif planned.status is not None:
                shown = "null" if planned.legacy_status is None else planned.legacy_status
                self.disagreements[(shown, planned.status.value)] += 1
        else:
            self.missing += 1
        self.outcomes[outcome] += 1
        if self._file is not None:
            line = ReportLine(
                id=planned.id,
                legacy_status=planned.legacy_status,
                status=None if planned.status is None else planned.status.value,
                agrees=planned.agrees,
                outcome=outcome.value,
                problems=problems,
            )
            self._file.write(_encoder.encode(line) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    @property
    def problems(self) -> int:
        return self.outcomes[Outcome.PROBLEM]

    def summary(self) -> str:
        head = "applied" if self.apply else "dry run: nothing was written (--apply imports)"
        share = f" ({self.agree / self.read:.1%})" if self.read else ""
        lines = [
            f"framestate import-legacy, {head}",
            f"projects read: {self.read:,}",
            f"status agrees with the facts: {self.agree:,}{share}",
            f"status disagrees with the facts: {self.read - self.agree:,}",
        ]
        lines += [
            f"  {legacy} → {status}: {count:,}"
            for (legacy, status), count in sorted(self.disagreements.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        if self.missing:
            lines.append(f"projects named by clips or jobs but missing: {self.missing:,}")
        order = APPLY_OUTCOMES if self.apply else DRY_RUN_OUTCOMES
        lines.append("outcomes: " + ", ".join(f"{o.value} {self.outcomes[o]:,}" for o in order))
        return "\n".join(lines) + "\n"


class Progress:
    """Projects done of the total, and the rate: rewritten in place on a terminal, else a line at
    most every `interval` seconds."""

    def __init__(self, total: int, *, stream: IO[str] = sys.stderr, interval: float = 1.0) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.interval = interval
        self.began = time.perf_counter()
        self._shown = self.began
        self._tty = stream.isatty()

    def advance(self, projects: int) -> None:
        self.done += projects
        now = time.perf_counter()
        if now - self._shown >= (0.2 if self._tty else self.interval):
            self._shown = now
            self._show(final=False)

    def finish(self) -> None:
        self._show(final=True)

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.began
        return self.done / elapsed if elapsed > 0 else 0.0

    def _show(self, *, final: bool) -> None:
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        line = f"import-legacy: {self.done:,} of {self.total:,} projects{share}, {self.rate:,.0f} projects/s"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
