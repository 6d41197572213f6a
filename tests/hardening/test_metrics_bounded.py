"""No request can add a series to the metrics: a method outside the standard ones counts as
`other`, and a path that matches no route as one value, so the exposition does not grow with what
clients send."""

import random
import string

import pytest

from tests.api import Api
from tests.metrics import parse

pytestmark = pytest.mark.anyio


def _word(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(string.ascii_uppercase + string.digits, k=size))


async def _hostile(api: Api, rng: random.Random, count: int) -> None:
    for _ in range(count):
        method = _word(rng, rng.randint(1, 40))
        if rng.random() < 0.5:
            path = "/" + "/".join(_word(rng, rng.randint(1, 12)).lower() for _ in range(rng.randint(1, 4)))
        else:
            path = f"/v1/projects/{_word(rng, 32).lower()}/history"
        await api.call(method, path)


def _series(exposition: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return set(parse(exposition))


async def test_10000_requests_of_random_methods_and_paths_add_no_series(api: Api) -> None:
    rng = random.Random(19)
    await _hostile(api, rng, 10)
    await api.call("GET", "/metrics", 200)  # the scrape's own series
    after_10 = (await api.call("GET", "/metrics", 200)).text
    await _hostile(api, rng, 10_000)
    after_10010 = (await api.call("GET", "/metrics", 200)).text
    assert _series(after_10010) == _series(after_10)
    assert len(after_10010) < len(after_10) + 2000  # only the figures grew a digit or two
    assert 'method="other"' in after_10010
