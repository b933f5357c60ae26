"""Fixtures shared by the tests that serve golden cases against real servers."""

from __future__ import annotations

import os

import pytest

REDIS_VAR = "CATALYST_TEST_REDIS_URL"


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The test Redis that ``node tools/runtime-tests.mjs`` starts (skips without one)."""
    url = os.environ.get(REDIS_VAR)
    if not url:
        pytest.skip(f"needs Redis: set {REDIS_VAR} (node tools/runtime-tests.mjs does)")
    return url
