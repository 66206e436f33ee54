"""`python -m advisor_chat.cli` is `advisor-chat`."""

from advisor_chat.cli.main import main

main()
