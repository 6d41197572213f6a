"""The one dependency of every handler: the app's context, acting for the caller."""

from dataclasses import replace
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from service.context import Context
from service.http.auth import Role, principal


def provide_context(state: State, request: Request[Any, Any, Any]) -> Context:
    """The app's context, acting for the caller: with auth on, a client sees only its projects, and
    every change it makes is recorded as the token's `sub`."""
    ctx: Context = state.ctx
    caller = principal(request)
    if caller is None:
        return ctx
    return replace(ctx, owner=caller.sub if caller.role is Role.CLIENT else None, actor=caller.sub)


Ctx = NamedDependency[Context]
DEPENDENCIES = {"ctx": Provide(provide_context, sync_to_thread=False)}
