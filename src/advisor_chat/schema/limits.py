"""How long free text may be, in characters, and how many items a list may hold: one
constant per concept, used by the table declarations, the argument validators and the
edges that copy text in from elsewhere (Clerk, token claims).

Each limit is far beyond what a person types, yet bounds what one request can make the
server store, index, send to every subscriber and put into a model's prompt. Ids need no
limit here: `v.id` accepts at most `ids.MAX_ID_LENGTH` characters by construction.
"""

from __future__ import annotations

from typing import Final

from advisor_chat.schema.ids import MAX_ID_LENGTH

# Names and labels
NAME: Final = 200  # a display name, an advisor's name or job title, a model's name
NAME_PART: Final = 100  # a first or last name
TITLE: Final = 200  # a conversation's title
LABEL: Final = 64  # a tag, a category, a code (language, country, time zone, version)
KEY: Final = 200  # a memory's key
EMAIL: Final = 320  # RFC 5321: 64 for the local part, 255 for the domain, and the @
SUBJECT: Final = 256  # a token's subject (Clerk user id, `local_<random>`)
TEAM_ID: Final = 128  # a team template's id, as its file names it
URL: Final = 2048  # an image URL: what browsers and CDNs reliably carry
CURSOR: Final = 2048  # a pagination cursor: ours are far shorter
ID: Final = MAX_ID_LENGTH  # an id passed as a plain string (a round, a summary's span)

# Prose
LINE: Final = 1_000  # a sentence or a list entry: a one-liner, a principle, a mission
TEXT: Final = 10_000  # a paragraph or a few: a bio, a background, a description
MESSAGE: Final = 32_000  # a message or a summary: about 8,000 tokens
SEARCH: Final = 500  # a search query

# Lists
ITEMS: Final = 50  # entries in a persona's list, tags, mentions, extra keys of a file
BOARD: Final = 20  # advisors on one conversation's board
SEARCHED_TAGS: Final = 20  # tags one lookup takes: each is an index read
