"""How a `framestate` command ends: its exit statuses (the README lists them) and the one error that
stops a command with a line of its own instead of a traceback."""

from enum import IntEnum


class Exit(IntEnum):
    DONE = 0
    """It did what it was asked."""
    REFUSED = 1
    """The service refused the work (an export it may not start, a project it does not know), or
    the export ended without the command (cancelled on the board, superseded, failed for silence)."""
    CANNOT_RUN = 2
    """A setting, an argument, the database or the port cannot work; the line says which."""
    TOKEN = 3
    """The service wants a token, or a token of another role, than the command has."""
    NO_SERVICE = 4
    """Nothing answers at the service's URL, or it stopped answering midway."""
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), as shells count it: 128 + 2."""


class CannotRun(Exception):
    """A mistake the user can fix: the command stops with this sentence, and `status`."""

    def __init__(self, sentence: str, status: Exit = Exit.CANNOT_RUN) -> None:
        super().__init__(sentence)
        self.status = status
