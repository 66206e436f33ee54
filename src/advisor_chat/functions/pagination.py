"""Convex's pagination arguments and results: `paginationOpts: {numItems, cursor}` in,
`{page, isDone, continueCursor}` out, so ported clients page the same way."""

from __future__ import annotations

from typing import Any

from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Page

MAX_PAGE_ITEMS = 200

PAGINATION_OPTS = v.optional(
    v.object(
        {
            "numItems": v.number(minimum=1, maximum=MAX_PAGE_ITEMS),
            "cursor": v.optional(v.nullable(v.string(max_length=limits.CURSOR))),
        }
    )
)


def page_request(args: dict[str, Any], default: int = 50) -> tuple[int, str | None]:
    opts = args.get("paginationOpts") or {}
    return int(opts.get("numItems", default)), opts.get("cursor")


def page_result(page: Page) -> dict[str, Any]:
    return {"page": page.page, "isDone": page.is_done, "continueCursor": page.continue_cursor}
