"""The running workers of `dsr run`: mail intake (record, then process), the pipeline that
advances cases, the outbox worker and the mailer, the scheduler, the mailbox lock, and the staff
verbs (`actions`) that Slack and the CLI share.

May import `bot.case` and the leaves; never `bot.slack` or `bot.cli` (it reaches Slack only
through outbox rows, which `bot.slack.outbox` sends).
"""
