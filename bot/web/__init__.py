"""The web wing: the auditors' read-only pages under /audit and the operators' /metrics.

A presentation wing like `bot/slack/` and `bot/cli/`: it may import `bot/work` and `bot/case`
(and the leaves); only `bot/app.py` or `bot/http.py` import it. Its SQL lives in
`bot/case/store.py` and `storage/audit.py`.
"""

from bot.web.metrics import install_metrics
from bot.web.pages import install_audit

__all__ = ["install_audit", "install_metrics"]
