"""The `advisor-chat` command: thin wrappers over the layers."""
