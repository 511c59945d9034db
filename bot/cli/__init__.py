"""The `dsr` command line: one module per command group (`main` wires them), plus the demo tour.

May import `bot.work` and `bot.case`; imports what a command needs inside the command, so that
`dsr --help` and the store commands start fast.
"""
