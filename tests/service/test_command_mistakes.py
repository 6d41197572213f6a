"""What `framestate serve` and `framestate migrate` say to a mistake a user can make: a database that
does not answer or does not exist, a user it does not know, a SQLite file that cannot be one, a
port in use, a second server on one SQLite file, Ctrl-C. One or two lines that name the cause and
the fix, the exit status the README lists, never a traceback."""

import socket
import sqlite3
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from bench.servers import free_port
from service.commands.before_serving import LOCK_SUFFIX
from tests.commands import INTERRUPTED, assert_said, interrupt, run, started
from tests.servers import READY, server_process

URL = "FRAMESTATE_DATABASE_URL"
CANNOT_RUN = 2


def _tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_postgresql_database_that_does_not_exist(postgres_url: str) -> None:
    missing = make_url(postgres_url).set(database=f"no_such_{uuid.uuid4().hex[:8]}")
    result = run("migrate", env={URL: missing.render_as_string(hide_password=False)})
    assert_said(result, CANNOT_RUN, f'has no database "{missing.database}"', "createdb", URL)


def test_a_postgresql_user_it_does_not_know(postgres_url: str) -> None:
    stranger = make_url(postgres_url).set(username=f"nobody_{uuid.uuid4().hex[:8]}")
    result = run("migrate", env={URL: stranger.render_as_string(hide_password=False)})
    assert_said(result, CANNOT_RUN, "refused the user", stranger.username or "", URL)


def test_nothing_answers_at_the_postgresql_port() -> None:
    port = free_port()
    result = run("serve", env={URL: f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test"})
    assert_said(result, CANNOT_RUN, f"no PostgreSQL answers at 127.0.0.1:{port}", URL)


def test_a_postgresql_host_that_is_not_known() -> None:
    result = run("migrate", env={URL: "postgresql+asyncpg://postgres@no-such-host.invalid:5432/test"})
    assert_said(result, CANNOT_RUN, '"no-such-host.invalid"', "not known", URL)


def test_a_sqlite_file_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = run("migrate", env={URL: f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'framestate.db'}"})
    assert_said(result, CANNOT_RUN, "cannot make the directory", URL)


def test_a_file_that_is_not_a_sqlite_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("shopping list\n" * 100)
    result = run("serve", env={URL: f"sqlite+aiosqlite:///{notes}"})
    assert_said(result, CANNOT_RUN, "is not a SQLite database", URL)
    assert notes.read_text() == "shopping list\n" * 100


def test_a_port_in_use_stops_serve_before_it_migrates(tmp_path: Path) -> None:
    database = tmp_path / "framestate.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), env={URL: f"sqlite+aiosqlite:///{database}"})
    assert_said(result, CANNOT_RUN, f"port {port} on 127.0.0.1 is in use", "--port")
    assert _tables(database) == set()


def test_a_port_that_cannot_be_one() -> None:
    assert_said(run("serve", "--port", "70000"), CANNOT_RUN, "a port is a number from 1 to 65535")


def test_a_second_server_on_one_sqlite_file_is_refused_before_it_migrates(sqlite_url: str) -> None:
    with server_process(sqlite_url) as first:
        port = first.url.rsplit(":", 1)[1]
        env = {URL: sqlite_url, "FRAMESTATE_LOG_LEVEL": "INFO"}
        result = run("serve", "--port", str(free_port()), env=env)
        said = assert_said(result, CANNOT_RUN, "served already", f"pid {first.process.pid}", f":{port}")
        assert "Context impl" in "".join(first.log), "the first one migrated, and said so"
        assert "Context impl" not in said, "the second one did not migrate"
        assert httpx.get(f"{first.url}/health").status_code == 200


def test_a_server_that_was_killed_does_not_lock_its_file(sqlite_url: str) -> None:
    database = Path(make_url(sqlite_url).database or "")
    lock = database.with_name(database.name + LOCK_SUFFIX)
    with server_process(sqlite_url) as crashed:
        crashed.process.kill()  # SIGKILL: no clean-up of any kind
        crashed.process.wait()
    assert lock.exists(), "the killed server's file is left behind"
    with server_process(sqlite_url) as next_one:
        assert httpx.get(f"{next_one.url}/health").status_code == 200
    assert not lock.exists(), "a server that stops removes its file"


@pytest.mark.parametrize("after_s", [0.5, 1.2, None], ids=["starting", "migrating", "serving"])
def test_ctrl_c_at_any_moment_of_serve(tmp_path: Path, after_s: float | None) -> None:
    env = {URL: f"sqlite+aiosqlite:///{tmp_path / 'framestate.db'}", "FRAMESTATE_LOG_LEVEL": "INFO"}
    with started("serve", "--port", str(free_port()), env=env) as serving:
        if after_s is None:
            assert serving.stderr is not None
            while READY not in serving.stderr.readline():
                pass
        else:
            time.sleep(after_s)
        status, out, err = interrupt(serving)
    assert "Traceback" not in out + err
    assert status in (0, *INTERRUPTED), err
    if after_s is None:
        assert status == 0, "a server stopped by Ctrl-C has stopped as asked"
    if status in INTERRUPTED:
        assert "interrupted" in err


def test_token_mistakes_say_what_to_change() -> None:
    assert_said(run("token", "--sub", "alice", "--role", "client"), CANNOT_RUN, "FRAMESTATE_JWT_SECRET")
    secret = {"FRAMESTATE_JWT_SECRET": "s" * 40}
    result = run("token", "--sub", "alice", "--role", "client", "--days", "0", env=secret)
    assert_said(result, CANNOT_RUN, "--days must be a positive number")
