"""`dsr run` with Slack configured, as a real process: /slack/events answers on the bot's HTTP
server (refusing forgeries, answering Slack's URL check) and Socket Mode connects."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.servers.postgres import free_port
from tests.servers.slack import SECRET, FakeSlack, sign


def _env(tmp_path: Path, port: int, api: str) -> dict[str, str]:
    return {
        **os.environ,
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dsr.db'}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        "DSR_MAILDIR": str(tmp_path / "maildir"),
        "DSR_OUTBOX_MAILDIR": str(tmp_path / "outbox"),
        "DSR_HTTP_PORT": str(port),
        "DSR_SMTP_RECEIVER_PORT": "0",
        "DSR_SLACK_BOT_TOKEN": "xoxb-test",
        "DSR_SLACK_SIGNING_SECRET": SECRET,
        "DSR_SLACK_APP_TOKEN": "xapp-1-test",
        "DSR_SLACK_API_URL": api,
        "DSR_SLACK_CHANNEL": "CPRIV",
        "DSR_SLACK_APPROVERS": "UAPP1",
    }


async def _dsr(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_dsr_run_serves_slack(tmp_path: Path, fake_slack: FakeSlack) -> None:
    port = free_port()
    env = _env(tmp_path, port, fake_slack.url)
    for step in (("db", "upgrade"), ("store", "init")):
        proc = await _dsr(env, tmp_path, *step)
        assert await proc.wait() == 0, (await proc.communicate())[1]
    proc = await _dsr(env, tmp_path, "run")
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(60):
                while True:
                    try:
                        async with http.get(base + "/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
            await fake_slack.wait_for("apps.connections.open", wait=30)
            body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"})
            headers = {"Content-Type": "application/json"}
            async with http.post(
                base + "/slack/events", data=body, headers={**headers, **sign(body)}
            ) as r:
                assert r.status == 200 and (await r.json())["challenge"] == "c-123"
            forged = {**headers, **sign(body, secret="wrong")}
            async with http.post(base + "/slack/events", data=body, headers=forged) as r:
                assert r.status == 401
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
        _, err = await proc.communicate()
    assert b"xoxb-test" not in err and SECRET.encode() not in err
