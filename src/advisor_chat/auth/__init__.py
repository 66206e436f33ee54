"""Who is calling: identities from verified tokens, never from request bodies."""
