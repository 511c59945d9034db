"""`python -m bot` is `dsr`."""

from bot.cli import main

main()
