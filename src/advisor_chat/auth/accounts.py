"""Local accounts, the embedded default's sign-in: sign up, sign in, refresh, sign out,
change password. Passwords are hashed with scrypt; refresh tokens are random, stored only
as SHA-256, rotated on every use, and all revoked by a password change.

Each signed-in account has a users row like any Clerk user's, whose `clerkId` is the
account's token subject (`local_<random>`) and whose `tokenIssuer` is ours, so every
function treats both alike and no other issuer's token acts as it (auth/identities.py).

A sign-in is a chain of sessions, one more each refresh, all naming the first
(`signInId`); its access tokens name it too, and hold only while it does (auth/signins.py).
A refresh token works once: presenting a spent one again means two holders (a stolen copy,
say), so it ends the whole sign-in, successor included (OAuth 2.0 Security BCP, refresh
token rotation). Clients sharing a refresh token must pass on the one a refresh returns.
One exception, for a client's own second presentation: a reload, a second tab, or a retry
whose answer was lost, sending the token a refresh spent a moment ago. Within REUSE_GRACE_S
of that refresh, while the sign-in holds, the spent token rotates again (see `refresh`).

A password is checked (scrypt, tens of milliseconds, on a worker thread) outside any
transaction, so every write that rests on a check is a compare-and-set: the transaction
re-reads the account and goes ahead only if the password hash is still the one checked.
A password change raises the account's `sessionEpoch`; a session is good only while its
`epoch` equals it. So a sign-in or refresh that commits before a change is signed out by
it, one that commits after sees the new hash or epoch, on either backend, and a change
writes one row however many sessions the account has.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import partial

from advisor_chat.auth.identities import user_of
from advisor_chat.auth.passwords import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    dummy_hash,
    hash_password_async,
    verify_password_async,
)
from advisor_chat.auth.profiles import checked_name
from advisor_chat.auth.signins import live_session, require_live
from advisor_chat.auth.tokens import ACCESS_TTL_S, LEEWAY_S, LocalTokens
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.log import get_logger
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import Document, Store, Transaction

log = get_logger(__name__)

REFRESH_TTL_S = 30 * 24 * 3600
# Seconds after a refresh spends a token during which presenting it again rotates again
# instead of ending the sign-in: long enough for a reload, another tab or a retry racing
# the refresh, short enough that a stolen copy used later is still caught.
REUSE_GRACE_S = 10
MAX_VERIFY = 3  # a sign-in checks again once per password change landing meanwhile, then fails
# Oldest sessions of a user a new session looks through for dead ones (expired or of an
# older epoch) to delete. Each issue adds one row and may remove this many, so dead rows
# never pile up and the page keeps every transaction small.
PRUNE_PAGE = 8
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}")
PLANS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is good for
    user_id: str


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise FunctionError(Code.INVALID_ARGUMENT, "not an email address", field="email")
    return email


def _check_password(password: str, field: str = "password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            field=field,
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _epoch(account: Document) -> int:
    return int(account.get("sessionEpoch", 0))


async def _session(tx: Transaction, refresh_token: str) -> Document | None:
    return (
        await tx.query("sessions", "by_refresh_hash")
        .eq("refreshHash", _hash_token(refresh_token))
        .unique()
    )


async def _prune(tx: Transaction, user_id: str, epoch: int) -> None:
    """Delete the dead sessions among the user's PRUNE_PAGE oldest. Spent sessions stay
    until they expire: a spent token still finds its sign-in to sign it out."""
    now = now_ms()
    oldest = await tx.query("sessions", "by_user").eq("userId", user_id).take(PRUNE_PAGE)
    for session in oldest:
        if session["expiresAt"] < now or session.get("epoch", 0) != epoch:
            await tx.delete("sessions", session["_id"])


def _in_grace(session: Document) -> bool:
    """Whether a spent session was spent by a refresh at most REUSE_GRACE_S ago."""
    spent = "replacedBy" in session and "revokedAt" in session
    return spent and now_ms() - session["revokedAt"] <= REUSE_GRACE_S * 1000


def _identity(user: Document) -> Identity:
    return Identity(
        subject=user["clerkId"],
        issuer=LOCAL_ISSUER,
        email=user.get("email"),
        name=user.get("name"),
        picture_url=user.get("image"),
    )


class Accounts:
    def __init__(self, store: Store, tokens: LocalTokens) -> None:
        self.store = store
        self.tokens = tokens

    async def _issue(
        self,
        tx: Transaction,
        user: Document,
        account: Document,
        sign_in_id: str | None = None,
        *,
        ttl_s: int = REFRESH_TTL_S,
        spends: Document | None = None,
    ) -> Tokens:
        """A new session of the account's current epoch, good for `ttl_s`. `sign_in_id`:
        the first session of the sign-in this one continues (a refresh); else it starts
        one, and names itself. `spends`: the sign-in's unspent session, which a refresh
        spends in the same write, naming this one as its replacement."""
        epoch = _epoch(account)
        await _prune(tx, user["_id"], epoch)
        refresh = secrets.token_urlsafe(32)
        now = now_ms()
        session_id = self.store.ids.new_id("sessions")
        sign_in = session_id if sign_in_id is None else sign_in_id
        session = {
            "userId": user["_id"],
            "refreshHash": _hash_token(refresh),
            "expiresAt": now + ttl_s * 1000,
            "createdAt": now,
            "epoch": epoch,
            "signInId": sign_in,
        }
        await tx.insert("sessions", session, id=session_id)
        if spends is not None:
            replaced = {"revokedAt": now, "replacedBy": session_id}
            await tx.patch("sessions", spends["_id"], replaced)
        access = self.tokens.issue(_identity(user), sign_in)
        return Tokens(access, refresh, ACCESS_TTL_S, user["_id"])

    async def create(
        self, email: str, password: str, name: str | None = None, plan: str = "free"
    ) -> Tokens:
        email = normal_email(email)
        _check_password(password)
        name = checked_name(name) if name is not None else None
        if plan not in PLANS:
            raise FunctionError(Code.INVALID_ARGUMENT, f"plan must be one of {PLANS}", field="plan")
        password_hash = await hash_password_async(password)

        async def create(tx: Transaction) -> Tokens:
            if await tx.query("accounts", "by_email").eq("email", email).unique() is not None:
                raise FunctionError(
                    Code.CONFLICT, "an account with this email exists", field="email"
                )
            now = now_ms()
            user_fields = {
                "clerkId": f"local_{secrets.token_hex(12)}",
                "tokenIssuer": LOCAL_ISSUER,
                "email": email,
                "plan": plan,
                "createdAt": now,
                "updatedAt": now,
            }
            if name:
                user_fields["name"] = name
            user_id = await tx.insert("users", user_fields)
            account_id = await tx.insert(
                "accounts",
                {
                    "email": email,
                    "passwordHash": password_hash,
                    "userId": user_id,
                    "createdAt": now,
                    "updatedAt": now,
                },
            )
            user = await tx.get("users", user_id)
            account = await tx.get("accounts", account_id)
            assert user is not None
            assert account is not None
            return await self._issue(tx, user, account)

        return (await self.store.mutation(create)).value

    async def sign_in(self, email: str, password: str) -> Tokens:
        wrong = FunctionError(Code.UNAUTHENTICATED, "wrong email or password")
        try:
            email = normal_email(email)
        except FunctionError:
            raise wrong from None
        account = (
            await self.store.query(
                lambda tx: tx.query("accounts", "by_email").eq("email", email).unique()
            )
        ).value
        if account is None:
            await verify_password_async(password, dummy_hash())  # costs what a wrong one does
            raise wrong

        async def issue(tx: Transaction, verified: str) -> Tokens | str:
            """Tokens if the password is still the one verified, else its new hash."""
            current = await tx.get("accounts", account["_id"])
            user = await tx.get("users", account["userId"])
            if current is None or user is None:
                raise wrong
            if current["passwordHash"] != verified:
                return str(current["passwordHash"])
            return await self._issue(tx, user, current)

        stored: str = account["passwordHash"]
        for _ in range(MAX_VERIFY):
            if not await verify_password_async(password, stored):
                raise wrong
            outcome = (await self.store.mutation(partial(issue, verified=stored))).value
            if isinstance(outcome, Tokens):
                return outcome
            stored = outcome  # changed since it was read: check the password against it
        raise wrong

    async def refresh(self, refresh_token: str) -> Tokens:
        """A new access token and a new refresh token; the old refresh token is spent, and
        presenting it again ends the sign-in (committed, then refused).

        Except within REUSE_GRACE_S of the refresh that spent it, while the sign-in holds
        (not signed out or ended, no password change since, unexpired): then it rotates
        again, from the sign-in's newest session, which it spends like any refresh. So the
        successor the earlier refresh issued is spent too, and the chain goes on from the
        newest: two unspent sessions would let two holders rotate apart unseen, the very
        thing reuse detection exists to catch; with one, whichever holder is left with a
        spent token ends the sign-in at its next refresh after the window. A third or later
        presentation within the window rotates again likewise; a token revoked by a
        sign-out or by reuse was not spent by a refresh and never gets the grace."""
        invalid = FunctionError(Code.UNAUTHENTICATED, "refresh token is not valid")
        graced: str | None = None  # the sign-in a spent token rotated again, within the window

        async def rotate(tx: Transaction) -> Tokens | str | None:
            """Tokens; or the sign-in a reused token ended (its id); or None: refused."""
            nonlocal graced
            graced = None  # an attempt the database refused may have set it
            session = await _session(tx, refresh_token)
            if session is None:
                raise invalid
            # Absent: the first session of a sign-in made before first sessions named themselves.
            sign_in = str(session.get("signInId", session["_id"]))
            if "revokedAt" in session:  # spent by a refresh, or signed out
                live = await live_session(tx, sign_in)
                if live is None:
                    return None
                if _in_grace(session):
                    again = await self._rotate(tx, live, sign_in)
                    if again is not None:
                        graced = sign_in
                        return again
                await tx.patch("sessions", live["_id"], {"revokedAt": now_ms()})
                return sign_in
            tokens = await self._rotate(tx, session, sign_in)
            if tokens is None:
                raise invalid
            return tokens

        outcome = (await self.store.mutation(rotate)).value
        if isinstance(outcome, Tokens):
            if graced is not None:
                log.info("refresh_token_reused_within_grace", sign_in=graced)
            return outcome
        if outcome is not None:
            log.warning("refresh_token_reused", sign_in=outcome)
        raise FunctionError(
            Code.UNAUTHENTICATED,
            "refresh token is not valid: it was already used or signed out, and its sign-in "
            "has ended; sign in again",
        )

    async def _rotate(self, tx: Transaction, session: Document, sign_in: str) -> Tokens | None:
        """Spend the sign-in's unspent `session` for a successor; None if it no longer holds
        (expired, or signed out by a password change or the user's deletion)."""
        if session["expiresAt"] < now_ms():
            return None
        user = await tx.get("users", session["userId"])
        account = await tx.query("accounts", "by_user").eq("userId", session["userId"]).unique()
        if user is None or account is None or session.get("epoch", 0) != _epoch(account):
            return None
        return await self._issue(tx, user, account, sign_in, spends=session)

    async def owner_of(self, refresh_token: str) -> str | None:
        """The user a refresh token's session belongs to, spent or not; None if none does.
        For a per-account limit to count a refresh before it rotates anything."""
        session = (await self.store.query(lambda tx: _session(tx, refresh_token))).value
        return None if session is None else str(session["userId"])

    async def sign_out(self, refresh_token: str) -> None:
        """Ends the sign-in the token belongs to, even when the token was spent by a refresh
        (another tab's, say, racing this sign-out): its unspent successor is revoked."""

        async def revoke(tx: Transaction) -> None:
            session = await _session(tx, refresh_token)
            if session is not None and "revokedAt" in session:
                # A refresh (within the grace window too) spends the unspent session and
                # adds the next in one transaction, so a sign-in has at most one unspent session.
                session = await live_session(tx, str(session.get("signInId", session["_id"])))
            if session is not None:
                await tx.patch("sessions", session["_id"], {"revokedAt": now_ms()})

        await self.store.mutation(revoke)

    async def change_password(self, identity: Identity, old: str, new: str) -> None:
        """Also signs out every session of the account. Made only if the password is still
        the one `old` was checked against: of two changes from the same old password one
        wins, the other is refused (CONFLICT), never silently overwriting the first."""
        _check_password(new, "newPassword")
        wrong = FunctionError(Code.UNAUTHENTICATED, "wrong password", field="oldPassword")

        async def find(tx: Transaction) -> Document | None:
            await require_live(tx, identity)
            user = await user_of(tx, identity.issuer, identity.subject)
            if user is None:
                return None
            return await tx.query("accounts", "by_user").eq("userId", user["_id"]).unique()

        account = (await self.store.query(find)).value
        if account is None or not await verify_password_async(old, account["passwordHash"]):
            raise wrong
        new_hash = await hash_password_async(new)

        async def change(tx: Transaction) -> bool:
            current = await tx.get("accounts", account["_id"])
            if current is None:
                raise wrong
            if current["passwordHash"] != account["passwordHash"]:
                return False
            await tx.patch(
                "accounts",
                current["_id"],
                {
                    "passwordHash": new_hash,
                    "sessionEpoch": _epoch(current) + 1,
                    "updatedAt": now_ms(),
                },
            )
            return True

        if not (await self.store.mutation(change)).value:
            raise FunctionError(
                Code.CONFLICT,
                "the password was changed meanwhile; sign in with the new one",
                field="oldPassword",
            )

    async def token_for(self, email: str) -> str:
        """An access token for an existing account, for scripts and admins (CLI). It gets a
        sign-in of its own, which lasts as long as the token (nobody holds its refresh
        token) and ends like any other: by a password change or the user's deletion."""
        email = normal_email(email)

        async def issue(tx: Transaction) -> Tokens:
            account = await tx.query("accounts", "by_email").eq("email", email).unique()
            user = None if account is None else await tx.get("users", account["userId"])
            if account is None or user is None:
                raise FunctionError(Code.NOT_FOUND, f"no account for {email}")
            return await self._issue(tx, user, account, ttl_s=ACCESS_TTL_S + LEEWAY_S)

        return (await self.store.mutation(issue)).value.access_token
