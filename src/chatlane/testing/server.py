"""FakeServer: a real OpenAI-compatible HTTP server on loopback, scripted by tests.

The server runs aiohttp on its own event loop in a daemon thread, so the same object serves
sync tests, async tests (whatever loop they run) and subprocess clients alike. Tests enqueue
replies from their own thread while the server thread takes them: the queue, the records and
the handler are guarded by one lock and copied out, never shared.

Routes:

- ``POST .../chat/completions`` (any prefix, so Azure's
  ``/openai/deployments/{d}/chat/completions?api-version=...`` works): the next queued reply,
  else ``handler(request)``, else an echo of the last user message.
- ``GET .../models``: one model, the server's ``model``.
- anything else: 404 with OpenAI's error shape.

Every response carries ``x-request-id: req_fake_<n>``, ``n`` counting requests.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import msgspec
from aiohttp import web

from chatlane.core.error_body import error_body
from chatlane.testing._respond import JSON, respond
from chatlane.testing._wire import Exchange
from chatlane.testing.recorded import RecordedRequest, is_models_path
from chatlane.testing.replies import Completion, ErrorReply, Reply

__all__ = ["FakeServer", "Handler"]

Handler = Callable[[RecordedRequest], Reply | None]
"""Answers a chat request when the queue is empty; None falls back to the default reply.

It runs on the server's thread, inside its event loop: keep it quick and non-blocking (use
:class:`~chatlane.testing.Stall` or delays on the reply to slow the answer down)."""

_MAX_BODY = 64 * 1024 * 1024  # big prompts (context-length tests) must still arrive whole
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class FakeServer:
    """An OpenAI-compatible server on ``host:port`` (port 0: a free one) for tests.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with FakeServer() as server:
            server.enqueue(Completion(content="hi"), Stream(chunks=["Hel", "lo"]))
            client = chatlane.Client(base_url=server.url, api_key="k")

    With ``api_key`` set, every request must carry ``Authorization: Bearer <key>`` or
    ``api-key: <key>``, or it gets OpenAI's 401 (which never repeats the key presented).
    ``model`` is what ``/models`` lists and what replies name when a request names none.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        model: str = "fake-model",
    ) -> None:
        self.host = host
        self.api_key = api_key
        self.model = model
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._records: list[RecordedRequest] = []
        self._handler: Handler | None = None
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # touched only on the server's loop

    def __repr__(self) -> str:
        state = self.url if self._port is not None else "stopped"
        return f"<FakeServer {state}>"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeServer:
        """Bind and serve in a background thread; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakeServer is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=_run_loop, args=(loop,), name="chatlane-fake-server", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            future = asyncio.run_coroutine_threadsafe(self._open(), loop)
            self._port = future.result(_START_TIMEOUT)
        except BaseException:
            self._halt()
            raise
        return self

    def stop(self) -> None:
        """Stop serving: cancel replies in progress (stalls too), close every connection.

        Safe to call twice. Must not be called from a reply handler (the server's own thread).
        """
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            raise RuntimeError("FakeServer.stop() cannot run on the server's own thread")
        try:
            if self._runner is not None:
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(_STOP_TIMEOUT)
        finally:
            self._halt()

    def _halt(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
        self._loop = self._thread = self._runner = None
        self._port = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _open(self) -> int:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        # handler_cancellation: a client that gives up (a timeout test) cancels its stalled
        # reply instead of leaving it to sleep on in a long-lived shared server.
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port: int = runner.addresses[0][1]
        return port

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests use -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the free one chosen when constructed with port 0)."""
        if self._port is None:
            raise RuntimeError("FakeServer is not running: use it in a with-block or call start()")
        return self._port

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Add replies to the queue: each chat request takes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many queued replies have not been taken yet."""
        with self._lock:
            return len(self._queue)

    @property
    def handler(self) -> Handler | None:
        """Called with each chat request that finds the queue empty."""
        with self._lock:
            return self._handler

    @handler.setter
    def handler(self, handler: Handler | None) -> None:
        with self._lock:
            self._handler = handler

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (all paths, including refused ones), in order."""
        with self._lock:
            return list(self._records)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat-completions requests, in order."""
        with self._lock:
            return [record for record in self._records if record.is_chat]

    def reset(self) -> None:
        """Forget queued replies, recorded requests and the handler (between tests)."""
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self._handler = None

    # --- serving (on the server's loop) -------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            return await self._dispatch(request)
        finally:
            self._tasks.discard(task)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        record = RecordedRequest(
            request.method, request.raw_path, headers, body, time.perf_counter()
        )
        with self._lock:
            self._records.append(record)
            self._count += 1
            number = self._count
        own = {"x-request-id": f"req_fake_{number}"}
        if not self._authorized(headers):
            message, code = "Incorrect API key provided.", "invalid_api_key"
            return _error(401, own, message, "invalid_request_error", code)
        if record.is_chat:
            parsed = record.json()
            if not isinstance(parsed, dict):  # refused before taking a reply from the queue
                message = "We could not parse the JSON body of your request."
                return _error(400, own, message, "invalid_request_error", None)
            ex = Exchange.of(number, int(time.time()), parsed, self.model)
            return await respond(request, self._next_reply(record, ex), ex, own)
        if request.method == "GET" and is_models_path(record.path):
            model = {"id": self.model, "object": "model", "created": 0, "owned_by": "chatlane"}
            body = msgspec.json.encode({"object": "list", "data": [model]})
            return web.Response(body=body, headers={**own, "Content-Type": JSON})
        message = f"Unknown request URL: {request.method} {request.path}."
        return _error(404, own, message, "invalid_request_error", "unknown_url")

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        key = self.api_key
        if key is None:
            return True
        return headers.get("authorization") == f"Bearer {key}" or headers.get("api-key") == key

    def _next_reply(self, record: RecordedRequest, ex: Exchange) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            handler = self._handler
        if handler is not None:
            try:
                reply = handler(record)
            except Exception as exc:  # the test's bug: answer with it rather than hang
                message = f"The fake server's handler raised {type(exc).__name__}: {exc}"
                return ErrorReply(500, message=message, type="server_error")
            if reply is not None:
                return reply
        return Completion(content=f"This is chatlane's fake server. You said: {ex.last_user_text}")


def _error(
    status: int, headers: Mapping[str, str], message: str, type: str, code: str | None
) -> web.Response:
    body = error_body(status, message, type=type, code=code)
    return web.Response(status=status, body=body, headers={**headers, "Content-Type": JSON})


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
