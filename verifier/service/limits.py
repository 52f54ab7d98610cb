"""A request-body cap and idle timeout enforced while the body arrives, before it is stored.

Why not in the endpoint: Starlette spools a multipart file part to a
temporary file (in the system temp directory) before the endpoint runs, so a
size check there comes after the whole upload has landed on disk. A 100 GB
upload could fill the disk first, and the refusal would arrive only after
it had been received. This middleware refuses a declared Content-Length
over the cap without reading a byte, and stops a chunked upload as soon as
the count passes it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

# Room for the multipart framing and the small form fields beside the file.
FORM_OVERHEAD = 64 << 10
# A verification form is one file and a few short fields: anything more is refused while it is
# parsed, before it is held (Starlette's defaults kept 1000 fields and 1000 small files in RAM).
FORM_LIMITS = {"max_files": 1, "max_fields": 8, "max_part_size": FORM_OVERHEAD}
# A client that sends nothing of its body for this long is cut off (408): stalled uploads held
# a descriptor each until the service could accept no more connections.
BODY_IDLE_TIMEOUT_S = 60.0


def too_large_message(limit: int) -> str:
    """One wording for both refusals: this middleware's and the endpoint's copy check."""
    return f"upload larger than the {limit} byte limit"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int, overhead: int = FORM_OVERHEAD,
                 idle_timeout: float = BODY_IDLE_TIMEOUT_S):
        self.app = app
        self.limit = limit
        self.cap = limit + overhead
        self.idle_timeout = idle_timeout

    def _refusal(self, why: str) -> tuple[Message, Message]:
        status, kind, message = {
            "too_large": (413, "too_large", too_large_message(self.limit)),
            "timeout": (408, "timeout", f"no part of the request body arrived for {self.idle_timeout:g} s"),
        }[why]
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        start = {"type": "http.response.start", "status": status,
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                             (b"connection", b"close")]}
        return start, {"type": "http.response.body", "body": body}

    async def _refuse(self, send: Send, why: str = "too_large") -> None:
        for message in self._refusal(why):
            await send(message)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.cap:
            await self._refuse(send)
            return
        state: dict[str, Any] = {"seen": 0, "over": None, "replaced": False, "body_done": False,
                                 "started": False}

        async def counting_receive() -> Message:
            if state["over"]:  # the app reads on after the cap: it hears that the client left
                return {"type": "http.disconnect"}
            if state["body_done"]:  # later reads wait for a disconnect (a streamed answer): no timeout
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout)
            except asyncio.TimeoutError:
                state["over"] = "timeout"
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["body_done"] = not message.get("more_body", False)
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.cap:
                    state["over"] = "too_large"
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            # Once over the cap, whatever the app answers (a parse error,
            # most likely) is replaced by the one refusal that says why.
            if not state["over"]:
                state["started"] = state["started"] or message["type"] == "http.response.start"
                await send(message)
            elif state["started"]:  # an answer is already on its way: it can only be cut short
                return
            elif message["type"] == "http.response.start" and not state["replaced"]:
                state["replaced"] = True
                await self._refuse(send, state["over"])

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["replaced"] and not state["started"]:
            state["replaced"] = True
            await self._refuse(send, state["over"])
