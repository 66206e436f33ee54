"""A user's profile text (display name, email, image URL), kept to what every screen can
show safely, whichever way it arrives: typed by the user (sign-up, `updateUserProfile`:
refused with INVALID_ARGUMENT when it does not fit) or copied from elsewhere (a Clerk
webhook, an issuer's token claims: made to fit, since refusing would only make the
sender retry the same delivery, or keep the user from signing in at all).
"""

from __future__ import annotations

import re
from typing import Any

from advisor_chat.errors import Code, FunctionError
from advisor_chat.schema import limits

# An image the web app can put in <img src> without running anything it names.
SAFE_IMAGE = re.compile(
    r"(?i)(https?://[^\s]+|data:image/(png|jpeg|gif|webp|avif);base64,[A-Za-z0-9+/=]+)\Z"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_name(name: str, field: str = "name") -> str | None:
    """A name the user typed, trimmed; None when blank. Refuses one over limits.NAME
    characters or with control characters (it lands in tokens and on every screen)."""
    name = name.strip()
    if len(name) > limits.NAME:
        raise FunctionError(
            Code.INVALID_ARGUMENT, f"a name is at most {limits.NAME} characters", field=field
        )
    if _CONTROL.search(name):
        raise FunctionError(
            Code.INVALID_ARGUMENT, "a name cannot hold control characters", field=field
        )
    return name or None


def checked_image(image: str, field: str = "image") -> str:
    if len(image) > limits.URL or not SAFE_IMAGE.match(image):
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"an image must be an http(s) URL or a data:image/ URL of at most {limits.URL} "
            "characters",
            field=field,
        )
    return image


def copied_profile(email: Any, name: Any, image: Any) -> dict[str, str]:
    """The parts of a profile from elsewhere that fit: a name with its control characters
    turned to spaces and cut to limits.NAME; an email or image only if it fits whole (a
    cut one would be wrong, not shorter)."""
    fields: dict[str, str] = {}
    if isinstance(name, str):
        tidy = " ".join(_CONTROL.sub(" ", name).split())[: limits.NAME].strip()
        if tidy:
            fields["name"] = tidy
    if isinstance(email, str) and len(email) <= limits.EMAIL and not _CONTROL.search(email):
        fields["email"] = email
    if isinstance(image, str) and len(image) <= limits.URL and SAFE_IMAGE.match(image):
        fields["image"] = image
    return fields
