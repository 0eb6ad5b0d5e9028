"""The demo's WeCom sink answers like the robot and prints what it receives."""

from __future__ import annotations

import io
import threading
from http.server import ThreadingHTTPServer

import httpx

from ragtasks_alerter.demo_sink import make_handler


def test_sink_prints_messages_and_refuses_oversized_content() -> None:
    out = io.StringIO()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(out))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=demo"
    try:
        ok = httpx.post(url, json={"msgtype": "markdown", "markdown": {"content": "**[FIRING:1] 告警**"}})
        assert ok.json() == {"errcode": 0, "errmsg": "ok"}
        big = httpx.post(url, json={"msgtype": "markdown", "markdown": {"content": "中" * 1366}})
        assert big.status_code == 200 and big.json()["errcode"] == 40058
    finally:
        server.shutdown()
        server.server_close()
    printed = out.getvalue()
    assert "**[FIRING:1] 告警**" in printed and "demo" not in printed
