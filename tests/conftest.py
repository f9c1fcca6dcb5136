from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from tests.postgres import database_url, postgres, store_db  # noqa: F401 (fixtures for all)
from webapp.simulator import Simulator

SIM_KEY = "sim-key-5f2b9c0e7a1d"

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A hosted-Burki simulator with no scripted traffic: tests script everything."""
    async with Simulator(api_key=SIM_KEY, autoplay=False) as simulator:
        yield simulator


@pytest.fixture
async def oss_sim() -> AsyncIterator[Simulator]:
    """A simulator that behaves like the open-source Burki server."""
    async with Simulator(api_key=SIM_KEY, autoplay=False, oss_quirks=True) as simulator:
        yield simulator


def chromium_or_skip() -> str:
    """The Chromium binary, or skip (fail when REQUIRE_BROWSER=1) with a clear message."""
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return CHROMIUM if os.path.exists(CHROMIUM) else str(shutil.which("chromium"))
    message = "browser tests need Debian's chromium: apt-get install -y chromium"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (REQUIRE_BROWSER=1)")
    pytest.skip(message)
