"""Whether a sign-in still holds: checked by every call made with one of our access tokens,
in the call's own transaction, so a session ends at once, in every server process.

A sign-in is the chain of sessions a refresh rotates: each row names the chain's first in
`signInId` (the first names itself), and at most one row of a chain is unspent. An access
token names its chain (`sid`). It holds while the chain has its unspent session, unexpired,
of the account's current `sessionEpoch`, and the account is there. So:

- a sign-out revokes the unspent session: the sign-in's access tokens end with it;
- reuse of a spent refresh token revokes it too, unless it comes within the grace window
  after the refresh that spent it: then it rotates the chain again (see `Accounts.refresh`);
- a password change raises the epoch: every sign-in of the account ends;
- a deleted user's account goes with them (`delete_user` removes it first, in the same
  transaction, even when the rest of what they had is left to the cascade's batches).

Read in the transaction the function runs in (functions/runner.py), the check sees the same
snapshot as the function, costs no transaction of its own, and is part of a query's read
set, so a live query re-runs, and is refused, when its caller's sign-in ends. Cost: two
point reads, each by the leading fields of an index, whatever the number of users or
sessions (bench/session_check.py measures it against a call without it and a whole
request). A per-process cache invalidated by `store.commits` could save them, but commits
are published only in the process that made them, and another server process's sign-out
must end the token here at once; such a cache waits for a cross-process invalidation bus.
"""

from __future__ import annotations

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.store import Document, Transaction


async def live_session(tx: Transaction, sign_in: str) -> Document | None:
    """The sign-in's unspent session, if it has one (revoked, expired or of an old epoch
    alike: the caller decides what those mean)."""
    return (
        await tx.query("sessions", "by_sign_in")
        .eq("signInId", sign_in)
        .eq("revokedAt", None)
        .first()
    )


async def why_ended(tx: Transaction, sign_in: str) -> str | None:
    """Why the sign-in no longer holds, or None while it does."""
    session = await live_session(tx, sign_in)
    if session is None:
        return "this sign-in has ended"
    if session["expiresAt"] < now_ms():
        return "this sign-in has expired"
    account = await tx.query("accounts", "by_user").eq("userId", session["userId"]).unique()
    if account is None:
        return "the account no longer exists"
    if session.get("epoch", 0) != account.get("sessionEpoch", 0):
        return "the password was changed"
    return None


async def require_live(tx: Transaction, identity: Identity | None) -> None:
    """Refuse (UNAUTHENTICATED) a caller whose sign-in has ended. Only our own tokens name
    a sign-in (the verifier refuses one of ours that names none); an issuer's tokens, and
    the callers the scheduler runs work for, have none to check."""
    if identity is None or identity.sign_in is None:
        return
    reason = await why_ended(tx, identity.sign_in)
    if reason is not None:
        raise FunctionError(Code.UNAUTHENTICATED, f"signed out: {reason}; sign in again")
