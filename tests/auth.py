"""Auth in the tests: one secret, the tokens of any caller, and the settings that turn auth on."""

from dataclasses import replace
from typing import Any

from service.http.auth import Role, mint_token
from service.settings import Settings

SECRET = "framestate-tests-secret-" + "s" * 32
ENV = {"FRAMESTATE_JWT_SECRET": SECRET}
"""What a server process needs in its environment to serve with auth on."""


def token(sub: str, role: Role = Role.CLIENT) -> str:
    return mint_token(SECRET, sub, role)


def bearer(sub: str, role: Role = Role.CLIENT) -> dict[str, str]:
    """The `Authorization` header of a request made by `sub`."""
    return {"Authorization": f"Bearer {token(sub, role)}"}


ALICE, BOB = token("alice"), token("bob")


def auth_on(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, jwt_secret=SECRET, **changes)
