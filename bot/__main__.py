"""`python -m bot` is `dsr`."""

from bot.cli.main import main

main()
