"""A request-body cap enforced while the body arrives, before it is stored.

Why not in the endpoint: Starlette spools a multipart file part to a
temporary file (in the system temp directory) before the endpoint runs, so a
size check there comes after the whole upload has landed on disk. A 100 GB
upload could fill the disk first, and the refusal would arrive only after
it had been received. This middleware refuses a declared Content-Length
over the cap without reading a byte, and stops a chunked upload as soon as
the count passes it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

# Room for the multipart framing and the small form fields beside the file.
FORM_OVERHEAD = 64 << 10


def too_large_message(limit: int) -> str:
    """One wording for both refusals: this middleware's and the endpoint's copy check."""
    return f"upload larger than the {limit} byte limit"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int, overhead: int = FORM_OVERHEAD):
        self.app = app
        self.limit = limit
        self.cap = limit + overhead

    def _refusal(self) -> tuple[Message, Message]:
        body = json.dumps({"error": {"type": "too_large",
                                     "message": too_large_message(self.limit)}}).encode()
        start = {"type": "http.response.start", "status": 413,
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                             (b"connection", b"close")]}
        return start, {"type": "http.response.body", "body": body}

    async def _refuse(self, send: Send) -> None:
        for message in self._refusal():
            await send(message)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.cap:
            await self._refuse(send)
            return
        state = {"seen": 0, "over": False, "replaced": False}

        async def counting_receive() -> Message:
            if state["over"]:  # the app reads on after the cap: it hears that the client left
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.cap:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            # Once over the cap, whatever the app answers (a parse error,
            # most likely) is replaced by the one refusal that says why.
            if not state["over"]:
                await send(message)
            elif message["type"] == "http.response.start" and not state["replaced"]:
                state["replaced"] = True
                await self._refuse(send)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["replaced"]:
            state["replaced"] = True
            await self._refuse(send)
