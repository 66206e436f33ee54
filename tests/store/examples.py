"""Valid example documents for every table, minimal and with every optional field set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from advisor_chat.store import Transaction


@dataclass(frozen=True)
class Parents:
    user: str
    advisor: str
    conversation: str
    message: str


async def make_parents(tx: Transaction, tag: str = "p") -> Parents:
    user = await tx.insert(
        "users", {"clerkId": f"clerk-{tag}", "plan": "free", "createdAt": 1, "updatedAt": 1}
    )
    advisor = await tx.insert("advisors", example("advisors", None, full=False))
    conversation = await tx.insert(
        "conversations", {"userId": user, "createdAt": 1, "updatedAt": 1}
    )
    message = await tx.insert(
        "messages",
        {
            "conversationId": conversation,
            "sender": "user",
            "content": "hi",
            "mentions": [],
            "createdAt": 1,
        },
    )
    return Parents(user, advisor, conversation, message)


PERSONA_FULL: dict[str, Any] = {
    "name": "Ada Reyes",
    "title": "Fractional CFO",
    "image": "https://example.test/ada.png",
    "description": "Finance for seed-stage founders",
    "oneLiner": "Cash is oxygen.",
    "archetype": "The Steward",
    "temperament": "calm",
    "bio": "Twenty years in startup finance.",
    "detailedBackground": "Ran finance at three venture-backed companies.",
    "experience": "20 years",
    "specialties": ["runway", "fundraising"],
    "personalInterests": ["sailing"],
    "communicationStyle": "direct",
    "personality": ["pragmatic"],
    "expertise": ["FP&A"],
    "coreBeliefsOrPrinciples": ["Measure what matters"],
    "education": {
        "degreeLevel": "Master",
        "degreeName": "MBA",
        "major": "Finance",
        "institution": "Somewhere University",
        "graduationYear": 2004,
    },
    "additionalEducation": [{"degreeName": "CPA"}],
    "location": {
        "city": "Lisbon",
        "region": "Lisboa",
        "country": "Portugal",
        "countryCode": "PT",
        "timezone": "Europe/Lisbon",
    },
    "adviceDelivery": {
        "mode": "coach",
        "formality": "neutral",
        "useEmojis": False,
        "voiceGuidelines": ["short sentences"],
        "signOff": "— Ada",
    },
    "maritalStatus": "married",
}


def example(table: str, parents: Parents | None, *, full: bool) -> dict[str, Any]:
    """A valid document of `table`; ids point at `parents` (None only for advisors)."""
    p = parents
    if table == "users":
        doc: dict[str, Any] = {"clerkId": "clerk-x", "plan": "free", "createdAt": 1, "updatedAt": 2}
        if full:
            doc |= {"email": "a@example.test", "name": "A", "image": "https://i", "legacyId": "u-1"}
        return doc
    if table == "advisors":
        doc = {
            "schemaVersion": "1.1-base",
            "status": "active",
            "persona": {"name": "Ada Reyes", "title": "CFO"},
            "tags": [],
            "createdAt": 1,
            "updatedAt": 2,
        }
        if full:
            assert p is not None
            doc |= {
                "firstName": "Ada",
                "lastName": "Reyes",
                "imageUrl": "https://i",
                "ownerId": p.user,
                "isPublic": True,
                "featured": False,
                "category": "finance",
                "persona": PERSONA_FULL,
                "roleDefinition": {
                    "mission": "Keep the company solvent",
                    "scope": {"inScope": ["budgets"], "outOfScope": ["legal"]},
                    "keyPerformanceIndicators": [
                        {"metric": "runway", "description": "months", "unit": "months"}
                    ],
                    "extraKey": {"kept": True},
                },
                "components": [{"id": "c", "version": "1", "config": {}}],
                "metadata": {
                    "version": "1",
                    "createdAt": "2024-01-01T00:00:00Z",
                    "updatedAt": "2024-01-02T00:00:00Z",
                    "owner": {"org": "us", "contactEmail": "o@example.test"},
                    "tags": ["finance"],
                    "teamAffiliations": [
                        {"teamId": "t", "teamName": "T", "roleName": "CFO", "isPrimary": True}
                    ],
                },
                "localization": {"defaultLanguage": "en", "supportedLanguages": ["en", "pt"]},
                "modelHint": "gpt-4o-mini",
                "modelConfiguration": {"category": "finance", "defaultModel": "m"},
                "tags": ["finance", "runway"],
                "legacyId": "adv-1",
            }
        return doc
    assert p is not None
    if table == "userAdvisors":
        doc = {"userId": p.user, "advisorId": p.advisor, "selectedAt": 1, "source": "marketplace"}
        if full:
            doc |= {"source": "team", "teamId": "startup-team"}
        return doc
    if table == "teamTemplates":
        doc = {
            "id": "startup",
            "name": "Startup",
            "description": "A board for founders",
            "category": "startup",
            "advisorIds": [p.advisor],
            "createdAt": 1,
            "updatedAt": 2,
        }
        if full:
            doc |= {"icon": "rocket", "featured": True, "sortOrder": 3}
        return doc
    if table == "conversations":
        doc = {"userId": p.user, "createdAt": 1, "updatedAt": 2}
        if full:
            doc |= {
                "title": "Q2 planning",
                "activeAdvisorId": p.advisor,
                "advisorIds": [p.advisor],
                "legacyId": "conv-1",
            }
        return doc
    if table == "messages":
        doc = {
            "conversationId": p.conversation,
            "sender": "user",
            "content": "Hello",
            "mentions": [],
            "createdAt": 5,
        }
        if full:
            doc |= {
                "sender": "advisor",
                "advisorId": p.advisor,
                "contentJson": {"blocks": [1, "two", None, {"x": 1.5}]},
                "mentions": [p.advisor],
                "tokensUsed": 42,
                "status": "error",
                "error": "provider timed out",
                "legacyId": "msg-1",
            }
        return doc
    if table == "advisorMemories":
        return {
            "conversationId": p.conversation,
            "advisorId": p.advisor,
            "key": "runway",
            "value": {"months": 14} if full else "14 months",
            "createdAt": 1,
            "updatedAt": 2,
        }
    if table == "threadSummaries":
        doc = {"conversationId": p.conversation, "content": "So far...", "createdAt": 1}
        if full:
            doc |= {"startMessageId": p.message, "endMessageId": p.message}
        return doc
    if table == "typingIndicators":
        return {
            "conversationId": p.conversation,
            "userId": p.user,
            "isTyping": full,
            "lastTypingAt": 1,
        }
    if table == "userPresence":
        doc = {"userId": p.user, "isOnline": True, "lastSeenAt": 1}
        if full:
            doc["currentConversationId"] = p.conversation
        return doc
    if table == "accounts":
        return {
            "email": "a@example.test",
            "passwordHash": "scrypt$1$1$1$x$y",
            "userId": p.user,
            "createdAt": 1,
            "updatedAt": 2,
        }
    if table == "sessions":
        doc = {"userId": p.user, "refreshHash": "ab" * 32, "expiresAt": 9, "createdAt": 1}
        if full:
            doc["revokedAt"] = 5
        return doc
    if table == "rateLimits":
        return {"userId": p.user, "bucket": "messages", "windowStart": 1, "count": 1}
    if table == "webhookEvents":
        return {"eventId": "msg_1", "source": "clerk", "receivedAt": 1}
    if table == "streamDeltas":
        return {"messageId": p.message, "start": 0, "end": 5, "text": "Hello", "createdAt": 1}
    raise KeyError(table)
