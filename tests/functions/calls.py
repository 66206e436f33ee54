"""A function called as a signed-in user, the way the original app's tests call many in a
row: its value, or the error it refused with."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import FunctionError
from advisor_chat.functions.runner import Runner
from tests.functions.world import ALICE


async def call(runner: Runner, path: str, args: dict[str, Any], who: Any = ALICE) -> Any:
    return (await runner.call(path, args, who)).value


async def refusal(
    runner: Runner, path: str, args: dict[str, Any], who: Any = ALICE
) -> FunctionError:
    """The error the call fails with; a call that succeeds fails the test."""
    with pytest.raises(FunctionError) as caught:
        await runner.call(path, args, who)
    return caught.value
