from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.api import Api

pytestmark = pytest.mark.anyio


async def test_health_is_ok_when_the_database_answers(api: Api) -> None:
    assert (await api.call("GET", "/health", 200)).json() == {"status": "ok"}


async def test_health_is_503_problem_json_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unopenable = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}")  # a directory, not a file
    async with AsyncTestClient(app=create_app(unopenable)) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "database_unavailable"
