"""Convex's reactive pagination: `paginationOpts` in, as the official clients send it
(`numItems`, `cursor`, `endCursor`, `id`, `maximumRowsRead`, `maximumBytesRead`), and
`{page, isDone, continueCursor, splitCursor, pageStatus}` out.

Pages are pinned, as Convex pins them, so a list read a page at a time neither loses nor
repeats a row while rows are written around its pages:

- A page read without `endCursor` takes `numItems` rows and ends at the `continueCursor` it
  answers. That end goes into the query's journal (`PageJournal`), which the sync session
  keeps and sends to the client beside the result; every re-run of that subscription reads
  with it as `endCursor`. The next page starts at the same cursor, so the two stay
  adjacent whatever is inserted or deleted.
- A page read with `endCursor` returns every row in (cursor, endCursor], however many
  there now are, and `continueCursor = endCursor`. The last page (`isDone`) ends at an end
  cursor, which leaves it open: rows that arrive after it join it. For a newest-first chat
  list the newest rows join the first page, which starts at the list's start.
- A page that grew is split by the client into (cursor, splitCursor] and (splitCursor,
  continueCursor]: it does so past twice its initial size, or when told: "SplitRecommended"
  past three quarters of the rows or bytes a page may read, "SplitRequired" past all of them
  (the page then holds only what fit).

`id` is the client's cache-buster (each `usePaginatedQuery` gets its own journals); it does
not change the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from advisor_chat.errors import QueryInvalid
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store.query import IndexQuery, Page

MAX_PAGE_ITEMS = 200  # numItems a client may ask for
MAX_PAGE_ROWS = 1024  # rows a pinned page may read before it must be split
MAX_PAGE_BYTES = 4 << 20  # characters of stored JSON the same: one Transition stays small
MAX_ID = 2**53  # `id` is any JS safe integer (ConvexClient sends -1)
PageStatus = Literal["SplitRecommended", "SplitRequired"]


def _soft(limit: int) -> int:
    """Past this much of a limit a page is worth splitting (Convex: three quarters)."""
    return limit * 3 // 4


PAGINATION_OPTS = v.optional(
    v.object(
        {
            "numItems": v.number(minimum=1, maximum=MAX_PAGE_ITEMS),
            "cursor": v.optional(v.nullable(v.string(max_length=limits.CURSOR))),
            "endCursor": v.optional(v.nullable(v.string(max_length=limits.CURSOR))),
            "id": v.optional(v.number(minimum=-MAX_ID, maximum=MAX_ID)),
            "maximumRowsRead": v.optional(v.number(minimum=1, maximum=1 << 31)),
            "maximumBytesRead": v.optional(v.number(minimum=1, maximum=1 << 40)),
        }
    )
)


@dataclass(frozen=True)
class PageRequest:
    num_items: int
    cursor: str | None
    end_cursor: str | None
    maximum_rows_read: int | None
    maximum_bytes_read: int | None


def page_request(args: dict[str, Any], default: int = 50) -> PageRequest:
    opts = args.get("paginationOpts") or {}
    rows, size = opts.get("maximumRowsRead"), opts.get("maximumBytesRead")
    return PageRequest(
        num_items=int(opts.get("numItems", default)),
        cursor=opts.get("cursor") or None,
        end_cursor=opts.get("endCursor") or None,
        maximum_rows_read=None if rows is None else int(rows),
        maximum_bytes_read=None if size is None else int(size),
    )


class PageJournal:
    """Decisions a query run makes that its re-runs must repeat (Convex's query journal):
    the end of its page. The session keeps `encode()`'s string per subscription, sends it
    beside each result, and hands it back to every re-run; a client that reconnects sends
    it back in its `Add`, so its pages keep their ends across connections."""

    def __init__(self, journal: str | None = None) -> None:
        self.end_cursor = _end_of(journal)
        self._paginated = False

    def record(self, continue_cursor: str) -> None:
        if self._paginated:
            raise QueryInvalid("a query may read only one paginated list (its page is pinned)")
        self._paginated = True
        self.end_cursor = continue_cursor

    def encode(self) -> str | None:
        if not self._paginated or self.end_cursor is None:
            return None
        return orjson.dumps({"endCursor": self.end_cursor}).decode()


def _end_of(journal: str | None) -> str | None:
    """A journal comes back from the client: anything not of our shape is no journal (the
    page then reads afresh); a forged cursor inside fails as any cursor would."""
    if not journal:
        return None
    try:
        data = orjson.loads(journal)
    except orjson.JSONDecodeError:
        return None
    end = data.get("endCursor") if isinstance(data, dict) else None
    return end if isinstance(end, str) and 0 < len(end) <= limits.CURSOR else None


async def paginate(
    query: IndexQuery, args: dict[str, Any], journal: PageJournal, default: int = 50
) -> dict[str, Any]:
    """Read the page `args["paginationOpts"]` asks for, pinned by its `endCursor` or else
    by the journal's, and record its end in the journal."""
    request = page_request(args, default)
    end_cursor = request.end_cursor or journal.end_cursor
    if end_cursor is None:
        rows = min(request.num_items, request.maximum_rows_read or MAX_PAGE_ROWS)
        size = min(request.maximum_bytes_read or MAX_PAGE_BYTES, MAX_PAGE_BYTES)
        page = await query.paginate(rows, request.cursor, max_bytes=size)
    else:
        page = await query.paginate(
            MAX_PAGE_ROWS, request.cursor, end_cursor, max_bytes=MAX_PAGE_BYTES
        )
    journal.record(page.continue_cursor)
    return page_result(page, None if end_cursor is None else _status(page, request))


def _status(page: Page, request: PageRequest) -> PageStatus | None:
    """A pinned page reads its whole range; past these it should be cut in two."""
    if page.truncated:
        return "SplitRequired"
    rows = min(request.maximum_rows_read or MAX_PAGE_ROWS, MAX_PAGE_ROWS)
    size = min(request.maximum_bytes_read or MAX_PAGE_BYTES, MAX_PAGE_BYTES)
    if len(page.page) > _soft(rows) or page.size > _soft(size):
        return "SplitRecommended"
    return None


def page_result(page: Page, status: PageStatus | None = None) -> dict[str, Any]:
    return {
        "page": page.page,
        "isDone": page.is_done,
        "continueCursor": page.continue_cursor,
        "splitCursor": page.split_cursor,
        "pageStatus": status,
    }
