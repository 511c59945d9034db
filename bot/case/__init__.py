"""The case: its rules and its store. The lifecycle table and the transition that applies it,
the case store's queries (the only SQL on cases, outbox rows, inbound records, challenges and
approvals), routing policy, deadlines, verification, the report.

No I/O but the case store. May import `bot.errors`, `mail`, `intents` and `storage`; never
`bot.work`, `bot.slack` or `bot.cli`.
"""
