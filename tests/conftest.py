"""Fixtures shared by every layer's tests."""

pytest_plugins = ["tests.services"]
