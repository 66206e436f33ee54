"""What tests read off argument declarations."""

from __future__ import annotations

from advisor_chat.schema.fields import Nullable, Optional, Validator


def present(validator: Validator) -> Validator:
    """What a field holds when it is given a value: optional and nullable unwrapped."""
    while isinstance(validator, Optional | Nullable):
        validator = validator.inner
    return validator
