"""The throttle's rules as a deployment sets them, its device tokens, and its keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from advisor_chat.auth.devices import DeviceTokens
from advisor_chat.auth.limiter import TABLE, StoreLimiter
from advisor_chat.auth.limits import DEFAULT_RULES, Rule, rules_from
from advisor_chat.auth.throttle import Check, Throttle
from advisor_chat.errors import Code, FunctionError
from advisor_chat.settings import Settings
from advisor_chat.store import Store, Transaction

SECRET = b"s" * 40


def test_overrides_change_only_what_they_name() -> None:
    rules = rules_from({"signInAddress": {"count": 60}, "signUpEmail": {"windowSeconds": 60}})
    assert rules["signInAddress"] == Rule("signInAddress", 60, 900)
    assert rules["signUpEmail"] == Rule("signUpEmail", 5, 60)
    assert rules["signInAccount"] == DEFAULT_RULES["signInAccount"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"signinAddress": {"count": 3}}, "unknown auth limit 'signinAddress'; known: signIn"),
        ({"signInAddress": {"limit": 3}}, "signInAddress: unknown field(s) limit"),
        ({"signInAddress": {"count": 0}}, "count must be a whole number"),
        ({"signInAddress": {"count": 2.5}}, "count must be a whole number"),
        ({"signInAddress": {"windowSeconds": 0}}, "windowSeconds must be a number > 0"),
    ],
)
def test_a_wrong_setting_stops_the_settings_naming_it(
    overrides: dict[str, dict[str, float]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(auth_limits=overrides)


def test_a_device_token_holds_for_its_email_and_secret_only() -> None:
    devices = DeviceTokens(SECRET)
    token = devices.issue("a@example.test")
    nonce = devices.device_of(token, "a@example.test")
    assert nonce is not None
    assert token.startswith(nonce + ".")
    assert devices.device_of(token, "b@example.test") is None
    assert DeviceTokens(b"t" * 40).device_of(token, "a@example.test") is None
    for bad in (None, 7, "", ".", "x.y", token + "x", token.replace(".", "..", 1), "é.é"):
        assert devices.device_of(bad, "a@example.test") is None
    assert devices.issue("a@example.test") != token  # a new nonce each time


async def test_a_refusal_counts_nowhere_and_keys_name_nobody(store: Store) -> None:
    rules = rules_from({"signInAddress": {"count": 5}, "signInAccount": {"count": 1}})
    throttle = Throttle(StoreLimiter(store), rules, SECRET)
    email = Check("signInAccount", "victim@example.test")
    await throttle.take(Check("signInAddress", "192.0.2.1"), email)
    with pytest.raises(FunctionError) as refused:
        await throttle.take(Check("signInAddress", "192.0.2.1"), email)
    assert refused.value.code is Code.RATE_LIMITED
    assert refused.value.data == {"limit": "signInAccount", "retryAfter": 900}
    # The address's second attempt was given back when the account refused it.
    for _ in range(4):
        await throttle.take(Check("signInAddress", "192.0.2.1"))
    with pytest.raises(FunctionError, match="from this address; try again in 180 s"):
        await throttle.take(Check("signInAddress", "192.0.2.1"))

    async def keys(tx: Transaction) -> list[str]:
        return [row["key"] for row in await tx.query(TABLE).collect()]

    stored = (await store.query(keys)).value
    assert len(stored) == 2
    assert not any("victim" in key or "192.0.2" in key for key in stored)
