"""Per-plan quotas: messages a minute and generations a day, counted in the same
transaction as the write they limit, so a refused call (RATE_LIMITED) writes nothing and
concurrent calls cannot both slip under the limit."""

from __future__ import annotations

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import MutationCtx
from advisor_chat.functions.plans import Bucket, limits_of
from advisor_chat.store import Document

WINDOW_MS: dict[Bucket, float] = {"messages": 60_000, "generations": 86_400_000}


async def consume(ctx: MutationCtx, user: Document, bucket: Bucket, uses: int = 1) -> None:
    """Count `uses` against the caller's plan, all or none, or refuse with RATE_LIMITED."""
    limit = limits_of(ctx.limits, user.get("plan")).of(bucket)
    now = now_ms()
    window = WINDOW_MS[bucket]
    row = (
        await ctx.db.query("rateLimits", "by_user_bucket")
        .eq("userId", user["_id"])
        .eq("bucket", bucket)
        .unique()
    )
    if row is None:
        if limit < uses:
            raise _limited(bucket, limit, now + window)
        await ctx.db.insert(
            "rateLimits",
            {"userId": user["_id"], "bucket": bucket, "windowStart": now, "count": uses},
        )
        return
    if now - row["windowStart"] >= window:
        start, used = now, 0
    else:
        start, used = row["windowStart"], row["count"]
    if used + uses > limit:
        raise _limited(bucket, limit, start + window)
    await ctx.db.patch("rateLimits", row["_id"], {"windowStart": start, "count": used + uses})


def _limited(bucket: Bucket, limit: int, retry_at: float) -> FunctionError:
    per = "minute" if bucket == "messages" else "day"
    return FunctionError(
        Code.RATE_LIMITED,
        f"your plan allows {limit} {bucket} a {per}",
        bucket=bucket,
        limit=limit,
        retryAt=retry_at,
    )
