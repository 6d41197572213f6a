"""The `framestate` command: serve, migrate, diagram, token, simulate-export, import-legacy."""

import argparse
import getpass
import ipaddress
import logging
import logging.config
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fsm.diagram import markdown, mermaid
from fsm.facts import JobType
from service.commands.outcomes import CannotRun, Exit
from service.logs import logging_config
from service.settings import Settings, SettingsError


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from service.commands.before_serving import ready_to_serve
    from service.commands.database_check import check_database
    from service.commands.serving import serve
    from service.store.connection_budget import refusal

    if args.workers < 1:
        print("framestate: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and settings.is_sqlite:
        print(
            f"framestate: --workers {args.workers} needs PostgreSQL: a SQLite database serves one "
            "process (set FRAMESTATE_DATABASE_URL to postgresql+asyncpg://..., or serve one worker)",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1:
        check_database(settings)
        if refused := asyncio.run(refusal(settings, args.workers)):
            print(f"framestate: {refused}", file=sys.stderr)
            return 2
    if not settings.auth_on:
        if not _is_loopback(args.host):
            print(
                f"framestate: auth is off (FRAMESTATE_JWT_SECRET is not set), so it serves on a loopback "
                f"address only, not on {args.host}",
                file=sys.stderr,
            )
            return 2
        print(
            f"framestate: auth is off (no FRAMESTATE_JWT_SECRET): serving on {args.host} only",
            file=sys.stderr,
        )
    with ready_to_serve(settings, host=args.host, port=args.port):
        return serve(settings, host=args.host, port=args.port, workers=args.workers)


def _migrate(_: argparse.Namespace, settings: Settings) -> None:
    from service.commands.database_check import migrate

    migrate(settings)
    print(f"framestate: database is at the latest schema ({settings.database_url})")


def _simulate(args: argparse.Namespace, _: Settings) -> int:
    import asyncio

    from service.commands.simulate import simulate_export

    return asyncio.run(
        simulate_export(
            args.url,
            args.project_id,
            JobType(args.type),
            seconds=args.seconds,
            fail=args.fail,
            token=args.token or os.environ.get("FRAMESTATE_TOKEN"),
            worker_token=args.worker_token or os.environ.get("FRAMESTATE_WORKER_TOKEN"),
            ask=_asker(),
        )
    )


def _demo(args: argparse.Namespace, _: Settings) -> int:
    import asyncio

    from service.commands.demo import run_demo

    return asyncio.run(
        run_demo(
            args.url,
            token=args.token or os.environ.get("FRAMESTATE_TOKEN"),
            worker_token=args.worker_token or os.environ.get("FRAMESTATE_WORKER_TOKEN"),
            ask=_asker(),
        )
    )


def _watch_webhooks(args: argparse.Namespace, _: Settings) -> int:
    import asyncio

    from service.commands.watch_webhooks import watch_webhooks

    return asyncio.run(
        watch_webhooks(
            args.url,
            port=args.port,
            token=args.token or os.environ.get("FRAMESTATE_TOKEN"),
            ask=_asker(),
            progress=args.progress,
        )
    )


def _asker() -> Callable[[str], str] | None:
    """Asks for a token on a terminal, without echoing it; None where nobody could answer."""
    return getpass.getpass if sys.stdin.isatty() else None


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from service.http.auth import Role, mint_token

    if settings.jwt_secret is None:
        print("framestate: set FRAMESTATE_JWT_SECRET to mint tokens with it", file=sys.stderr)
        return 2
    if not 1 <= len(args.sub) <= 200 or not args.sub.isprintable():
        raise CannotRun("--sub must be 1 to 200 printable characters")
    if not args.days > 0:
        raise CannotRun(f"--days must be a positive number (got {args.days:g})")
    print(mint_token(settings.jwt_secret, args.sub, Role(args.role), timedelta(days=args.days)))
    return 0


def _import_legacy(args: argparse.Namespace, settings: Settings) -> int:
    from service.legacy.command import Options, import_legacy

    options = Options(
        source=args.source_url,
        apply=args.apply,
        report=args.report,
        mapping=args.mapping,
        status_map=args.status_map,
        owner=args.owner,
        batch_size=args.batch_size,
    )
    return import_legacy(options, settings)


def _diagram(args: argparse.Namespace, _: Settings) -> None:
    sys.stdout.write(markdown() if args.markdown else mermaid())


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="framestate", description="The workflow status of video-editing projects."
    )
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply pending migrations, then serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="the address to serve on (default %(default)s)")
    serve.add_argument("--port", type=_port, default=8000, help="the port to serve on (default %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes serving on the port (PostgreSQL only; default 1)"
    )
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="apply pending migrations and exit").set_defaults(run=_migrate)
    diagram = commands.add_parser("diagram", help="print the state diagram (Mermaid)")
    diagram.add_argument("--markdown", action="store_true", help="print the whole docs/state-machine.md page")
    diagram.set_defaults(run=_diagram)
    token = commands.add_parser("token", help="mint an access token with FRAMESTATE_JWT_SECRET")
    token.add_argument("--sub", required=True, help="who the token is for (a client's projects are its own)")
    token.add_argument("--role", required=True, type=_role, help="client (an app, a board) or worker")
    token.add_argument("--days", type=float, default=30.0, help="how long it is valid (default 30)")
    token.set_defaults(run=_token)
    demo = commands.add_parser(
        "demo", help="fill a running service with projects in every status and exports running, until Ctrl-C"
    )
    _service_options(demo, worker=True)
    demo.set_defaults(run=_demo)
    watch = commands.add_parser(
        "watch-webhooks", help="receive a running service's webhooks on this machine and print them"
    )
    _service_options(watch, worker=False)
    watch.add_argument(
        "--port", type=_port_or_any, default=0, help="the loopback port to receive on (default: any free one)"
    )
    watch.add_argument("--progress", action="store_true", help="also export.progress events")
    watch.set_defaults(run=_watch_webhooks)
    simulate = commands.add_parser("simulate-export", help="play an export worker against a running service")
    simulate.add_argument("project_id")
    simulate.add_argument("--type", required=True, choices=[t.value for t in JobType])
    simulate.add_argument("--seconds", type=float, default=5.0, help="how long the export takes (default 5)")
    simulate.add_argument("--fail", action="store_true", help="fail at the end instead of succeeding")
    simulate.add_argument(
        "--url", type=_url, default="http://127.0.0.1:8000", help="the service (default %(default)s)"
    )
    simulate.add_argument(
        "--token", help="with auth on: the owner's client token, to start and cancel (or FRAMESTATE_TOKEN)"
    )
    simulate.add_argument(
        "--worker-token", help="with auth on: a worker token, to report (or FRAMESTATE_WORKER_TOKEN)"
    )
    simulate.set_defaults(run=_simulate)
    legacy = commands.add_parser(
        "import-legacy", help="report on an existing app's projects, and with --apply bring them in"
    )
    legacy.add_argument(
        "source_url", metavar="SOURCE_URL", help="SQLAlchemy URL of the existing app's database"
    )
    legacy.add_argument(
        "--apply", action="store_true", help="write into framestate (a dry run writes nothing)"
    )
    legacy.add_argument("--report", type=Path, metavar="FILE", help="write the JSON Lines report there")
    legacy.add_argument(
        "--mapping", type=Path, metavar="FILE", help="TOML: the legacy tables' and columns' names"
    )
    legacy.add_argument(
        "--status-map",
        type=Path,
        metavar="FILE",
        help="TOML: legacy status = framestate status (adds, overrides)",
    )
    legacy.add_argument("--owner", metavar="SUB", help="with auth on: the client whose projects they become")
    legacy.add_argument(
        "--batch-size",
        type=int,
        default=500,
        metavar="N",
        help="projects a batch and a transaction (default 500)",
    )
    legacy.set_defaults(run=_import_legacy)
    return root


def _service_options(command: argparse.ArgumentParser, *, worker: bool) -> None:
    """--url, and the tokens a command that talks to a running service acts with when auth is on."""
    command.add_argument(
        "--url", type=_url, default="http://127.0.0.1:8000", help="the service (default %(default)s)"
    )
    command.add_argument("--token", help="with auth on: a client token (or FRAMESTATE_TOKEN)")
    if worker:
        command.add_argument(
            "--worker-token", help="with auth on: a worker token, to report (or FRAMESTATE_WORKER_TOKEN)"
        )


def _role(text: str) -> str:
    """A role of `service.http.auth.Role`, looked up only when a token is minted: that module brings
    the web framework, which no other command's start needs to wait for."""
    from service.http.auth import Role

    if text not in tuple(Role):
        raise argparse.ArgumentTypeError(f"a role is {' or '.join(Role)}, not {text!r}")
    return text


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1].strip("/")) == 0:
        raise argparse.ArgumentTypeError(f"the service's URL starts with http:// or https:// (got {text!r})")
    return text.rstrip("/")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def _port_or_any(text: str) -> int:
    return 0 if text == "0" else _port(text)


def main(argv: list[str] | None = None) -> int:
    """Every mistake a user can make ends in a line or two on standard error and an exit status of
    `service.commands.outcomes.Exit`, never a traceback; Ctrl-C too, at any moment. So the imports
    of this module are light, and the heavy ones wait inside the commands, where this catches an
    interrupt."""
    try:
        args = parser().parse_args(argv)
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            print(f"framestate: {exc}", file=sys.stderr)
            return 2
        logging.config.dictConfig(logging_config(settings))
        for chatty in ("httpx", "alembic.runtime.plugins"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        status: int | None = args.run(args, settings)
    except CannotRun as exc:
        print(f"framestate: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("framestate: interrupted (Ctrl-C)", file=sys.stderr)
        return Exit.INTERRUPTED
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
