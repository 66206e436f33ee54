"""Local accounts, the embedded default's sign-in: sign up, sign in, refresh, sign out,
change password. Passwords are hashed with scrypt; refresh tokens are random, stored only
as SHA-256, rotated on every use, and all revoked by a password change.

Each signed-in account has a users row like any Clerk user's, whose `clerkId` is the
account's token subject (`local_<random>`), so every function treats both alike.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from advisor_chat.auth.passwords import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    dummy_hash,
    hash_password_async,
    verify_password_async,
)
from advisor_chat.auth.tokens import ACCESS_TTL_S, LocalTokens
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.store import Document, Store, Transaction

REFRESH_TTL_S = 30 * 24 * 3600
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


def _identity(user: Document) -> Identity:
    return Identity(
        subject=user["clerkId"],
        issuer="advisor-chat",
        email=user.get("email"),
        name=user.get("name"),
        picture_url=user.get("image"),
    )


class Accounts:
    def __init__(self, store: Store, tokens: LocalTokens) -> None:
        self.store = store
        self.tokens = tokens

    async def _issue(self, tx: Transaction, user: Document) -> Tokens:
        refresh = secrets.token_urlsafe(32)
        now = now_ms()
        await tx.insert(
            "sessions",
            {
                "userId": user["_id"],
                "refreshHash": _hash_token(refresh),
                "expiresAt": now + REFRESH_TTL_S * 1000,
                "createdAt": now,
            },
        )
        access = self.tokens.issue(_identity(user))
        return Tokens(access, refresh, ACCESS_TTL_S, user["_id"])

    async def create(
        self, email: str, password: str, name: str | None = None, plan: str = "free"
    ) -> Tokens:
        email = normal_email(email)
        _check_password(password)
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
                "email": email,
                "plan": plan,
                "createdAt": now,
                "updatedAt": now,
            }
            if name:
                user_fields["name"] = name
            user_id = await tx.insert("users", user_fields)
            await tx.insert(
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
            assert user is not None
            return await self._issue(tx, user)

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
        ok = await verify_password_async(
            password, account["passwordHash"] if account else dummy_hash()
        )
        if account is None or not ok:
            raise wrong

        async def issue(tx: Transaction) -> Tokens:
            user = await tx.get("users", account["userId"])
            if user is None:
                raise wrong
            return await self._issue(tx, user)

        return (await self.store.mutation(issue)).value

    async def refresh(self, refresh_token: str) -> Tokens:
        """A new access token and a new refresh token; the old refresh token is spent."""
        invalid = FunctionError(Code.UNAUTHENTICATED, "refresh token is not valid")

        async def rotate(tx: Transaction) -> Tokens:
            session = (
                await tx.query("sessions", "by_refresh_hash")
                .eq("refreshHash", _hash_token(refresh_token))
                .unique()
            )
            if session is None or "revokedAt" in session or session["expiresAt"] < now_ms():
                raise invalid
            await tx.patch("sessions", session["_id"], {"revokedAt": now_ms()})
            user = await tx.get("users", session["userId"])
            if user is None:
                raise invalid
            return await self._issue(tx, user)

        return (await self.store.mutation(rotate)).value

    async def sign_out(self, refresh_token: str) -> None:
        async def revoke(tx: Transaction) -> None:
            session = (
                await tx.query("sessions", "by_refresh_hash")
                .eq("refreshHash", _hash_token(refresh_token))
                .unique()
            )
            if session is not None and "revokedAt" not in session:
                await tx.patch("sessions", session["_id"], {"revokedAt": now_ms()})

        await self.store.mutation(revoke)

    async def change_password(self, identity: Identity, old: str, new: str) -> None:
        """Also signs out every session of the account."""
        _check_password(new, "newPassword")

        async def find(tx: Transaction) -> Document | None:
            user = await tx.query("users", "by_clerk_id").eq("clerkId", identity.subject).unique()
            if user is None:
                return None
            return await tx.query("accounts", "by_user").eq("userId", user["_id"]).unique()

        account = (await self.store.query(find)).value
        if account is None or not await verify_password_async(old, account["passwordHash"]):
            raise FunctionError(Code.UNAUTHENTICATED, "wrong password", field="oldPassword")
        new_hash = await hash_password_async(new)

        async def change(tx: Transaction) -> None:
            await tx.patch(
                "accounts", account["_id"], {"passwordHash": new_hash, "updatedAt": now_ms()}
            )
            now = now_ms()
            for session in (
                await tx.query("sessions", "by_user").eq("userId", account["userId"]).collect()
            ):
                if "revokedAt" not in session:
                    await tx.patch("sessions", session["_id"], {"revokedAt": now})

        await self.store.mutation(change)

    async def token_for(self, email: str) -> str:
        """An access token for an existing account, for scripts and admins (CLI)."""
        email = normal_email(email)

        async def find(tx: Transaction) -> Document | None:
            account = await tx.query("accounts", "by_email").eq("email", email).unique()
            return None if account is None else await tx.get("users", account["userId"])

        user = (await self.store.query(find)).value
        if user is None:
            raise FunctionError(Code.NOT_FOUND, f"no account for {email}")
        return self.tokens.issue(_identity(user))
