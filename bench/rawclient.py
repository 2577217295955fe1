"""A minimal HTTP/1.1 and WebSocket client on raw asyncio streams, for the start benchmark.

A browser does its HTTP and WebSocket work natively, in another process than the page's
JavaScript. httpx and the websockets library are good clients but spend 1-2 ms of Python per
request on this 2-core machine, which a start latency of a few ms would wrongly charge to the
server. This client writes pre-encoded bytes and reads what comes back, nothing else; its clock
stamps are taken right before the request's bytes are written and right after a frame's bytes
are read. The start benchmark measures the same starts with httpx + websockets too and reports
both.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from typing import Any


class RawHttp:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
        """POST; returns (ns when the request was written, status, JSON body)."""
        data = json.dumps(body).encode()
        req = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\nCookie: {self.cookie}\r\n\r\n").encode() + data
        for attempt in (0, 1):
            if self.writer is None or self.writer.is_closing():
                await self._connect()
            assert self.reader is not None and self.writer is not None
            t = time.monotonic_ns()
            self.writer.write(req)
            try:
                status, headers = await _read_head(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closes connections idle for 5 s; the request raced with that: once more.
                self.writer = None
                if attempt:
                    raise
                continue
            payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
            return t, status, json.loads(payload) if payload else {}
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


class RawWebSocket:
    """Client side of RFC 6455, text frames only: enough to follow /ws/runs/{id}."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, path: str, cookie: str) -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Cookie: {cookie}\r\n\r\n").encode())
        status, _ = await _read_head(reader)
        if status != 101:
            writer.close()
            raise ConnectionError(f"WebSocket handshake for {path}: HTTP {status}")
        return cls(reader, writer)

    async def recv(self) -> tuple[int, str] | None:
        """(ns when the whole frame had arrived, text); None when the server closed the stream."""
        parts: list[bytes] = []
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)  # server frames are not masked
            opcode = b0 & 0x0F
            if opcode == 0x8:
                return None
            if opcode in (0x9, 0xA):
                continue  # ping/pong: not part of the stream
            parts.append(payload)
            if b0 & 0x80:
                return time.monotonic_ns(), b"".join(parts).decode()

    async def close(self) -> None:
        try:
            mask = os.urandom(4)
            code = struct.pack("!H", 1000)  # a normal close; client frames must be masked
            self.writer.write(b"\x88\x82" + mask + bytes(b ^ mask[i] for i, b in enumerate(code)))
            await self.writer.drain()
        except ConnectionError:
            pass
        self.writer.close()
