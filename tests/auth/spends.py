"""Time passing for spent refresh tokens, without waiting: the spends recorded in the
sessions table are moved back past the grace window, as if the refreshes that made them
had happened that long ago (auth/accounts.py `REUSE_GRACE_S`)."""

from __future__ import annotations

from advisor_chat.auth.accounts import REUSE_GRACE_S
from advisor_chat.store import Store, Transaction

PAST_GRACE_MS = (REUSE_GRACE_S + 1) * 1000


async def spends_pass_the_grace_window(store: Store) -> None:
    """Every session spent or revoked so far ended PAST_GRACE_MS earlier than recorded."""

    async def backdate(tx: Transaction) -> None:
        for session in await tx.query("sessions").collect():
            if "revokedAt" in session:
                earlier = {"revokedAt": session["revokedAt"] - PAST_GRACE_MS}
                await tx.patch("sessions", session["_id"], earlier)

    await store.mutation(backdate)
