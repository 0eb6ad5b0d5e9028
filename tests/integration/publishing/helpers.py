"""Helpers of the publishing tests: raw pika, the ragtasks CLI, the DLQ."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pika

BIN = Path(sys.executable).parent


def raw_publish(url: str, routing_key: str, body: bytes, *, headers: dict[str, Any] | None, content_type: str) -> None:
    """Publish exactly these bytes to the task exchange (confirmed, mandatory)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        props = pika.BasicProperties(
            content_type=content_type, content_encoding="utf-8", delivery_mode=2, headers=headers
        )
        channel.basic_publish("ragtasks", routing_key, body, props, mandatory=True)
    finally:
        connection.close()


def ragtasks(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(BIN / "ragtasks"), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if check and out.returncode != 0:
        raise AssertionError(f"ragtasks {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


def dlq_list(env: dict[str, str], queue: str, limit: int = 50) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ragtasks(env, "dlq", "list", queue, "--json", "--limit", str(limit)).stdout)
    return result


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()
