"""The chat engine: providers, persona prompts, context under a token budget, mentions,
streaming persistence, summaries and memories (DESIGN.md 8). The Convex functions that
drive it live in `functions/chat.py`; this package knows nothing of transports."""
