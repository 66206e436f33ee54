"""Live queries: a client's subscribed queries, re-run when a commit touches what they read."""
