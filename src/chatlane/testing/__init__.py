"""chatlane.testing: a real OpenAI-compatible fake server for tests, chatlane's and yours.

::

    from chatlane.testing import Completion, FakeServer, Stream

    with FakeServer() as server:
        server.enqueue(Completion(content="hi"), Stream(chunks=["Hel", "lo"], chunk_delay=0.05))
        ...  # point any OpenAI-compatible client at server.url
        assert server.chat_requests[0].json()["model"] == "gpt-4o-mini"

The server speaks HTTP on loopback from a background thread, so it works the same from sync
and async tests and with any client. Replies script content, timing and faults (error
statuses, HTML pages, connection resets, stalls); see :mod:`chatlane.testing.replies`.
From a shell: ``python -m chatlane.testing --port 8000`` or ``chatlane-fake-server``.
"""

from chatlane.testing.recorded import RecordedRequest
from chatlane.testing.replies import (
    AUTO,
    Completion,
    ErrorReply,
    HtmlError,
    RawResponse,
    Reply,
    ResetBeforeHeaders,
    ResetMidStream,
    Stall,
    Stream,
    ToolCallSpec,
    UsageSpec,
)
from chatlane.testing.server import FakeServer, Handler

__all__ = [
    "AUTO",
    "Completion",
    "ErrorReply",
    "FakeServer",
    "Handler",
    "HtmlError",
    "RawResponse",
    "RecordedRequest",
    "Reply",
    "ResetBeforeHeaders",
    "ResetMidStream",
    "Stall",
    "Stream",
    "ToolCallSpec",
    "UsageSpec",
]
