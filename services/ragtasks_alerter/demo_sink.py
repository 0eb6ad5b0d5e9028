"""A tiny local WeCom-robot-compatible sink for ``make run``: prints every message it receives.

    python -m ragtasks_alerter.demo_sink --port 8099 [--log /tmp/ragtasks-wecom-sink.log]

Point the alerter at it with
``RAGTASKS_WECOM_WEBHOOK_URL=http://127.0.0.1:8099/cgi-bin/webhook/send?key=demo``. It answers
like the robot (``{"errcode":0,"errmsg":"ok"}``; 40058 for an oversized content) and never
prints the key.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

LIMITS = {"markdown": 4096, "text": 2048}


def make_handler(out: TextIO) -> type[BaseHTTPRequestHandler]:
    class Sink(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
                msgtype = body["msgtype"]
                content = body[msgtype]["content"]
            except (ValueError, KeyError, TypeError):
                self._answer(40058, "invalid message")
                return
            if msgtype not in LIMITS or len(content.encode("utf-8")) > LIMITS[msgtype]:
                self._answer(40058, "content too long or bad msgtype")
                return
            stamp = time.strftime("%H:%M:%S")
            out.write(f"\n===== WeCom {msgtype} message received at {stamp} =====\n{content}\n")
            out.flush()
            self._answer(0, "ok")

        def _answer(self, errcode: int, errmsg: str) -> None:
            data = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Sink


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="print WeCom robot messages sent to this sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--log", help="append messages to this file instead of stdout")
    args = parser.parse_args(argv)
    out: TextIO = open(args.log, "a", encoding="utf-8") if args.log else sys.stdout  # noqa: SIM115
    server = ThreadingHTTPServer((args.host, args.port), make_handler(out))
    print(f"WeCom demo sink listening on http://{args.host}:{args.port}/cgi-bin/webhook/send?key=demo", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
