"""The product's registry over a migrated store, and Alice's world built through it."""

from __future__ import annotations

import pytest

from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store
from tests.functions.world import World, build_world


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, build_registry())


@pytest.fixture
async def world(store: Store, runner: Runner) -> World:
    return await build_world(store, runner)
