"""The Slack app: bolt listeners, the case card and other Block Kit views, `/dsr`, staff intake,
the daily digest and the outbox sender that posts and edits cards.

May import `bot.work` and `bot.case`; never `bot.cli`.
"""
