"""A tiny AMQP 0-9-1 server for the publisher's failure modes a real RabbitMQ will not show on demand.

It completes the handshake (connection, channel, ``confirm.select``) with pika's own frame codec
and then, per publish, either confirms (``basic.ack``) or stays silent forever -- a broker that
took the message and never confirms it. ``mode="mute"`` accepts TCP and never says a word.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

from pika import frame, spec

Mode = Literal["confirm", "silent", "mute"]
CAPABILITIES = {
    "publisher_confirms": True,
    "basic.nack": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
    "exchange_exchange_bindings": True,
    "authentication_failure_close": True,
}


class FakeAmqp:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.connections = 0
        self.publishes = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self._server.getsockname()[1]}/%2F"

    def __enter__(self) -> FakeAmqp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.close()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._server.accept()
            except OSError:
                continue
            self.connections += 1
            self._socks.append(sock)
            if self.mode != "mute":
                threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        buffer = b""
        confirmed = [0]  # delivery tags count per channel; one channel per connection here
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
                while buffer:
                    consumed, decoded = frame.decode_frame(buffer)
                    if not consumed:
                        break
                    buffer = buffer[consumed:]
                    for reply in self._answer(decoded, confirmed):
                        sock.sendall(reply.marshal())

    def _answer(self, decoded: object, confirmed: list[int]) -> list[frame.Frame]:
        if isinstance(decoded, frame.ProtocolHeader):
            start = spec.Connection.Start(
                server_properties={"capabilities": CAPABILITIES, "product": "fake-amqp"},
                mechanisms="PLAIN",
                locales="en_US",
            )
            return [frame.Method(0, start)]
        if not isinstance(decoded, frame.Method):
            return []  # content header / body of a publish
        method, channel = decoded.method, decoded.channel_number
        replies: dict[type, spec.amqp_object.Method] = {
            spec.Connection.StartOk: spec.Connection.Tune(channel_max=16, frame_max=131072, heartbeat=0),
            spec.Connection.Open: spec.Connection.OpenOk(),
            spec.Channel.Open: spec.Channel.OpenOk(),
            spec.Confirm.Select: spec.Confirm.SelectOk(),
            spec.Channel.Close: spec.Channel.CloseOk(),
            spec.Connection.Close: spec.Connection.CloseOk(),
        }
        if isinstance(method, spec.Basic.Publish):
            self.publishes += 1
            if self.mode != "confirm":
                return []
            confirmed[0] += 1
            return [frame.Method(channel, spec.Basic.Ack(delivery_tag=confirmed[0]))]
        reply = replies.get(type(method))
        return [] if reply is None else [frame.Method(channel if channel else 0, reply)]
