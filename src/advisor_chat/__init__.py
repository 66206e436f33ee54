"""AI Advisor Chat: a self-hostable, real-time AI advisory board."""

__version__ = "0.1.0"
