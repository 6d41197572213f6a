"""Hostile bytes, everywhere a client can put them: no answer is a 5xx, every 4xx is problem JSON,
and a refused request changes nothing.

Hypothesis throws, against the application in-process with auth on:
- arbitrary bytes and arbitrary JSON values (deep nesting included) as the body of every operation
  that takes one, authenticated by a Bearer token or by the session cookie, with any content type;
- arbitrary byte strings at the router as paths (under every route prefix, the board's files
  included), with every method;
- arbitrary byte strings in every query parameter the service reads, and in every header it reads;
- forged and altered cursors on every list that takes one, text of every kind where any id goes
  (projects, clips, jobs, webhooks, deliveries), and signed tokens whose `sub` is of every length
  and character class.

Requests are made as an HTTP server hands them to the application: the path arrives percent-encoded
in `raw_path` and decoded (invalid UTF-8 replaced) in `path`, as uvicorn does; header values hold
only the bytes HTTP/1.1 allows in a field value (a server refuses the rest before the application
sees them). After every refused request each project's version must be what it was; after an
accepted one the world is read again (and rebuilt once its export has finished).

`make test` runs a bounded number of examples, the same on every run (`derandomize`);
`FRAMESTATE_FUZZ_EXAMPLES` raises it (`make fuzz-deep`).
"""

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import anyio
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from service.http.app import create_app
from service.http.auth import Role
from service.settings import Settings
from tests.auth import SECRET, auth_on, token
from tests.conftest import empty_tables

EXAMPLES = int(os.environ.get("FRAMESTATE_FUZZ_EXAMPLES", "60"))
FUZZ_SETTINGS = run_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLIENT = token("fuzzer")
WORKER = token("renderer", Role.WORKER)
HOST = b"testserver.local"

# Operations that take a body: (method, path template, role).
BODY_OPERATIONS = [
    ("POST", "/v1/projects", CLIENT),
    ("POST", "/v1/projects/{project}/clips", CLIENT),
    ("PATCH", "/v1/projects/{project}/clips/{clip}", CLIENT),
    ("POST", "/v1/projects/{project}/exports", CLIENT),
    ("POST", "/v1/projects/{other}/exports", CLIENT),
    ("POST", "/v1/exports/{job}/progress", WORKER),
    ("POST", "/v1/exports/{job}/succeed", WORKER),
    ("POST", "/v1/exports/{job}/fail", WORKER),
    ("POST", "/v1/webhooks", CLIENT),
]
PATH_PREFIXES = [
    "/",
    "/board/",
    "/board/board.",
    "/schema/",
    "/health",
    "/v1/",
    "/v1/session",
    "/v1/projects/",
    "/v1/projects/{project}/",
    "/v1/projects/{project}/clips/",
    "/v1/exports/",
    "/v1/exports/{job}/",
    "/v1/state-machine",
]
QUERY_PATHS = [
    "/v1/projects",
    "/v1/projects/{project}/exports",
    "/v1/projects/{project}/history",
    "/v1/projects/{project}/clips",
    "/v1/webhooks/{webhook}/deliveries",
]
LISTS = [*QUERY_PATHS, "/v1/projects/{other}/history"]
ID_PATHS = [
    ("GET", "/v1/projects/{id}"),
    ("DELETE", "/v1/projects/{id}"),
    ("GET", "/v1/projects/{id}/history"),
    ("GET", "/v1/projects/{id}/events"),
    ("PATCH", "/v1/projects/{project}/clips/{id}"),
    ("DELETE", "/v1/projects/{project}/clips/{id}"),
    ("GET", "/v1/exports/{id}"),
    ("POST", "/v1/exports/{id}/cancel"),
    ("GET", "/v1/webhooks/{id}"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("GET", "/v1/webhooks/{id}/deliveries"),
    ("POST", "/v1/webhooks/{webhook}/deliveries/{id}/redeliver"),
]
IDS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789abcdef", min_size=31, max_size=33),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
    st.sampled_from(["\x00", "a\x00b", "0" * 32 + "\x00", "%00", "..", "9" * 40, "-1", "é" * 32]),
)
QUERY_NAMES = ["status", "limit", "cursor", "active"]
HEADER_NAMES = [
    "authorization",
    "cookie",
    "content-type",
    "idempotency-key",
    "if-match",
    "origin",
    "sec-fetch-site",
    "host",
    "x-request-id",
    "accept",
    "accept-encoding",
    "if-none-match",
    "if-modified-since",
    "range",
    "last-event-id",
]
HEADER_TARGETS = [
    ("GET", "/v1/projects", None),
    ("POST", "/v1/projects/{project}/clips", b'{"crop_data": {"k": 1}}'),
    ("POST", "/v1/projects/{project}/exports", b'{"type": "framing"}'),
    ("DELETE", "/v1/projects/{project}", None),
    ("POST", "/v1/session", None),
    ("GET", "/", None),
    ("GET", "/board/board.js", None),
    ("GET", "/schema/openapi.json", None),
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

# What an HTTP/1.1 server lets through as a header value: visible ASCII, obs-text, inner blanks.
FIELD_BYTES = st.binary(max_size=300).map(
    lambda raw: bytes(b for b in raw if b == 0x20 or b == 0x09 or 0x21 <= b <= 0x7E or b >= 0x80).strip(
        b" \t"
    )
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    ["name", "crop_data", "type", "progress", "message", "output_uri", "error", "reason"]
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "object", "deep", "broken-utf8"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    if kind == "object":
        fields = draw(st.dictionaries(FIELD_NAMES | st.text(max_size=8), JSON_VALUES, max_size=4))
        return json.dumps(fields).encode()
    if kind == "deep":
        levels = draw(st.integers(min_value=30, max_value=20_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"k":', b"}")]))
        inner = opener * levels + b"1" + closer * levels if opener != b"[" else b"[" * levels + b"]" * levels
        name = draw(FIELD_NAMES)
        return b'{"%s": %s}' % (name.encode(), inner) if draw(st.booleans()) else inner
    text = json.dumps({draw(FIELD_NAMES): "PLACEHOLDER"}).encode()
    return text.replace(b"PLACEHOLDER", draw(st.binary(min_size=1, max_size=20)))


def percent_encoded(raw: bytes, safe: str = "/") -> bytes:
    return quote(raw, safe=safe).encode("ascii")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class World:
    ids: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


class Target:
    """The application, called the way an HTTP server calls it, through the test client's portal."""

    def __init__(self, client: TestClient[Litestar]) -> None:
        self.client = client
        self.app = client.app
        self.world = World()

    async def _asgi(
        self, method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "root_path": "",
            "query_string": query,
            "headers": [(name.lower(), value) for name, value in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver.local", 80),
            "state": {},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        answer = Answer(0, {}, b"")

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await anyio.sleep_forever()
            return {"type": "http.disconnect"}

        with anyio.CancelScope() as scope_of_call:

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    answer.status = message["status"]
                    answer.headers = {
                        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]
                    }
                    if answer.headers.get("content-type", "").startswith("text/event-stream"):
                        scope_of_call.cancel()  # a stream that opened is all this test needs to know
                elif message["type"] == "http.response.body":
                    answer.body += message.get("body", b"")

            await self.app(scope, receive, send)
        return answer

    def call(
        self,
        method: str,
        raw_path: bytes,
        *,
        query: bytes = b"",
        headers: dict[str, bytes] | None = None,
        body: bytes = b"",
    ) -> Answer:
        header_list = [(b"host", HOST), (b"content-length", str(len(body)).encode())]
        header_list = [(k, v) for k, v in header_list if k.decode() not in (headers or {})]
        header_list += [(k.encode(), v) for k, v in (headers or {}).items()]
        return self.client.blocking_portal.call(self._asgi, method, raw_path, query, header_list, body)

    def fill(self, template: str) -> str:
        return template.format(**self.world.ids)

    # The world: a project with a framed clip and a running framing export, and another project.

    def _bearer(self, method: str, path: str, body: object = None, token: str = CLIENT) -> Any:
        headers = {"authorization": f"Bearer {token}".encode(), "content-type": b"application/json"}
        path, _, query = path.partition("?")
        answer = self.call(
            method,
            path.encode(),
            query=query.encode(),
            headers=headers,
            body=b"" if body is None else json.dumps(body).encode(),
        )
        assert answer.status < 300, (method, path, answer.status, answer.body)
        return json.loads(answer.body) if answer.body else None

    def build(self) -> None:
        self.client.blocking_portal.call(empty_tables, self.app.state.ctx.settings)
        project = self._bearer("POST", "/v1/projects", {"name": "Exporting"})
        clip = self._bearer("POST", f"/v1/projects/{project['id']}/clips", {"crop_data": {"k": [1]}})
        job = self._bearer("POST", f"/v1/projects/{project['id']}/exports", {"type": "framing"})
        self._bearer("POST", f"/v1/exports/{job['id']}/progress", {"progress": 10, "message": "m"}, WORKER)
        other = self._bearer("POST", "/v1/projects", {"name": "Other"})
        for _ in range(2):
            self._bearer("POST", f"/v1/projects/{project['id']}/clips", {"crop_data": None})
        hook = {"url": "http://127.0.0.1:9/hook", "events": ["project.created"]}
        webhook = self._bearer("POST", "/v1/webhooks", hook)
        self.world = World(
            {
                "project": project["id"],
                "clip": clip["id"],
                "job": job["id"],
                "other": other["id"],
                "webhook": webhook["id"],
            }
        )
        self.world.versions = self.versions()

    def versions(self) -> dict[str, int]:
        page = self._bearer("GET", "/v1/projects?limit=200")
        return {p["id"]: p["version"] for p in page["items"]}

    def check(self, answer: Answer, what: str) -> None:
        assert answer.status < 500, f"{what}: {answer.status} {answer.body[:500]!r}"
        if 400 <= answer.status < 500:
            assert answer.headers.get("content-type", "").startswith("application/problem+json"), (
                what,
                answer,
            )
            problem = json.loads(answer.body)
            assert problem["status"] == answer.status, (what, problem)
            for key in ("title", "detail", "code"):
                assert isinstance(problem[key], str), (what, problem)
                assert problem[key], (what, problem)
            assert self.versions() == self.world.versions, f"{what}: a refused request changed something"
        elif answer.status < 300 and answer.status != 0:
            self.world.versions = self.versions()
            exporting = self._bearer("GET", self.fill("/v1/exports/{job}"))["status"] in ("queued", "running")
            if not exporting or set(self.world.versions) != {
                self.world.ids["project"],
                self.world.ids["other"],
            }:
                self.build()


def _run(migrated_settings: Settings, test: Callable[[Target], None]) -> None:
    fuzzed = auth_on(migrated_settings, webhook_allow_networks=("127.0.0.0/8", "::1/128"))
    with TestClient(app=create_app(fuzzed)) as client:
        target = Target(client)
        target.build()
        test(target)


def test_no_body_is_a_5xx_and_a_refused_one_changes_nothing(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(
            operation=st.sampled_from(BODY_OPERATIONS),
            body=bodies(),
            by_cookie=st.booleans(),
            content_type=st.sampled_from(
                [b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b""]
            ),
        )
        def one(operation: tuple[str, str, str], body: bytes, by_cookie: bool, content_type: bytes) -> None:
            method, template, token = operation
            headers = (
                {"cookie": f"framestate_token={token}".encode()}
                if by_cookie
                else {"authorization": f"Bearer {token}".encode()}
            )
            if content_type:
                headers["content-type"] = content_type
            path = target.fill(template)
            target.check(
                target.call(method, path.encode(), headers=headers, body=body),
                f"{method} {path} {body[:80]!r}",
            )

        one()

    _run(migrated_settings, fuzz)


def test_no_path_is_a_5xx(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(
            method=st.sampled_from(METHODS),
            prefix=st.sampled_from(PATH_PREFIXES),
            tail=st.binary(max_size=300),
        )
        def one(method: str, prefix: str, tail: bytes) -> None:
            raw_path = percent_encoded(target.fill(prefix).encode()) + percent_encoded(tail, safe="/")
            headers = {"authorization": f"Bearer {CLIENT}".encode(), "content-type": b"application/json"}
            target.check(target.call(method, raw_path, headers=headers), f"{method} {raw_path[:200]!r}")

        one()

    _run(migrated_settings, fuzz)


def test_no_query_is_a_5xx(migrated_settings: Settings) -> None:
    pairs = st.lists(
        st.tuples(
            st.sampled_from(QUERY_NAMES) | st.text(max_size=5).map(str.encode).map(bytes.decode),
            st.binary(max_size=100),
        ),
        max_size=4,
    )

    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(
            path=st.sampled_from(QUERY_PATHS), pairs=pairs, raw=st.booleans(), garbage=st.binary(max_size=100)
        )
        def one(path: str, pairs: list[tuple[str, bytes]], raw: bool, garbage: bytes) -> None:
            if raw:  # what a client may type: any visible ASCII, unbalanced % and & included
                query = bytes(b for b in garbage if 0x21 <= b <= 0x7E and b != ord("#"))
            else:
                query = b"&".join(
                    percent_encoded(k.encode(), "") + b"=" + percent_encoded(v, "") for k, v in pairs
                )
            headers = {"authorization": f"Bearer {CLIENT}".encode()}
            target.check(
                target.call("GET", target.fill(path).encode(), query=query, headers=headers),
                f"GET {path}?{query!r}",
            )

        one()

    _run(migrated_settings, fuzz)


def test_no_header_is_a_5xx(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(
            request=st.sampled_from(HEADER_TARGETS),
            fuzzed=st.dictionaries(st.sampled_from(HEADER_NAMES), FIELD_BYTES, min_size=1, max_size=4),
            prefix_bearer=st.booleans(),
        )
        def one(
            request: tuple[str, str, bytes | None], fuzzed: dict[str, bytes], prefix_bearer: bool
        ) -> None:
            method, template, body = request
            headers = {"authorization": f"Bearer {CLIENT}".encode(), "content-type": b"application/json"}
            if prefix_bearer and "authorization" in fuzzed:
                fuzzed["authorization"] = b"Bearer " + fuzzed["authorization"]
            headers.update(fuzzed)
            path = target.fill(template)
            answer = target.call(method, path.encode(), headers=headers, body=body or b"")
            target.check(answer, f"{method} {path} {fuzzed!r}")

        one()

    _run(migrated_settings, fuzz)


def _cursor_of(target: Target, path: str) -> str:
    """A cursor the service made for the list at `path` (a page of one item)."""
    answer = target.call(
        "GET",
        target.fill(path).encode(),
        query=b"limit=1",
        headers={"authorization": f"Bearer {CLIENT}".encode()},
    )
    if path == "/v1/projects":
        return str(json.loads(answer.body)["next_cursor"])
    link = answer.headers.get("link", "")
    return link.partition("cursor=")[2].partition(">")[0] or "none"


@st.composite
def cursors(draw: st.DrawFn, made: list[str]) -> str:
    kind = draw(st.sampled_from(["text", "altered", "forged", "other-list"]))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "other-list":
        return draw(st.sampled_from(made))
    if kind == "forged":
        value = draw(JSON_VALUES | st.integers(min_value=-(2**80), max_value=2**80))
        payload = base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
        return payload + draw(st.sampled_from(["", ".", ".AAAA", "." + payload]))
    cursor = draw(st.sampled_from(made))
    at = draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    return cursor[:at] + draw(st.characters(codec="ascii")) + cursor[at + 1 :]


def test_no_cursor_is_a_5xx(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        made = [
            _cursor_of(target, path) for path in QUERY_PATHS if path != "/v1/webhooks/{webhook}/deliveries"
        ]

        @FUZZ_SETTINGS
        @given(path=st.sampled_from(LISTS), cursor=cursors(made))
        def one(path: str, cursor: str) -> None:
            query = b"cursor=" + percent_encoded(cursor.encode(), "")
            headers = {"authorization": f"Bearer {CLIENT}".encode()}
            answer = target.call("GET", target.fill(path).encode(), query=query, headers=headers)
            target.check(answer, f"GET {path}?cursor={cursor!r}")
            assert answer.status == 400 or cursor in made, (path, cursor, answer.status)

        one()

    _run(migrated_settings, fuzz)


def test_no_id_is_a_5xx(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(where=st.sampled_from(ID_PATHS), unknown=IDS)
        def one(where: tuple[str, str], unknown: str) -> None:
            method, template = where
            path = template.replace("{id}", "ID")
            raw_path = target.fill(path).encode().replace(b"ID", percent_encoded(unknown.encode(), ""))
            headers = {"authorization": f"Bearer {CLIENT}".encode(), "content-type": b"application/json"}
            body = b'{"crop_data": null}' if method == "PATCH" else b""
            answer = target.call(method, raw_path, headers=headers, body=body)
            target.check(answer, f"{method} {raw_path[:200]!r}")
            if unknown.strip("/") and "/" not in unknown and unknown not in target.world.ids.values():
                assert answer.status in (404, 405), (raw_path, answer)

        one()

    _run(migrated_settings, fuzz)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict[str, Any]) -> str:
    """An HS256 token signed with the service's secret, whatever its claims."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


SUBS = st.one_of(
    st.text(max_size=400),
    st.text(min_size=190, max_size=210),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "Co"]), max_size=20),
    st.integers(),
    st.none(),
    JSON_VALUES,
)


def test_no_token_claim_is_a_5xx(migrated_settings: Settings) -> None:
    def fuzz(target: Target) -> None:
        @FUZZ_SETTINGS
        @given(
            sub=SUBS,
            role=st.sampled_from(["client", "worker"]),
            request=st.sampled_from(HEADER_TARGETS),
            by_cookie=st.booleans(),
        )
        def one(sub: Any, role: str, request: tuple[str, str, bytes | None], by_cookie: bool) -> None:
            token = signed({"sub": sub, "role": role, "exp": int(time.time()) + 600})
            method, template, body = request
            headers = {"content-type": b"application/json"}
            if by_cookie:
                headers["cookie"] = f"framestate_token={token}".encode()
            else:
                headers["authorization"] = f"Bearer {token}".encode()
            path = target.fill(template)
            answer = target.call(method, path.encode(), headers=headers, body=body or b"")
            target.check(answer, f"{method} {path} sub={sub!r}")
            fits = isinstance(sub, str) and 1 <= len(sub) <= 200 and sub.isprintable()
            if not fits and template.startswith("/v1/") and template != "/v1/session":
                assert answer.status == 401, (sub, answer.status)

        one()

    _run(migrated_settings, fuzz)
