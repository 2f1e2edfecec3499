"""Write the canned upstream (a completion, a 2,000-chunk stream) and an nginx config for it.

Prints the chosen loopback port. nginx serves static files only to GET, so POSTs are sent
through ``error_page 405 =200`` to the same file.
"""

from __future__ import annotations

import json
import pathlib
import socket
import sys

STREAM_CHUNKS = 2000

COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1_760_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I help you today? I can answer questions, draft text, "
                "summarise documents, or help you reason through a problem step by step.",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 31,
        "total_tokens": 43,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
}


def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def stream_body() -> bytes:
    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": f" tok{i}"}) for i in range(STREAM_CHUNKS - 3)]
    events.append(chunk({}, "stop"))
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": STREAM_CHUNKS - 3,
        "total_tokens": STREAM_CHUNKS + 9,
    }
    events.append({**chunk({}), "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(event, separators=(',', ':'))}\n\n" for event in events]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


NGINX = """
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path tmp;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /v1/chat/completions {{
      default_type application/json;
      try_files /completion.json =404;
      error_page 405 =200 $uri;
    }}
    location = /stream/v1/chat/completions {{
      default_type text/event-stream;
      try_files /stream.sse =404;
      error_page 405 =200 $uri;
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    root = pathlib.Path(sys.argv[1])
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "completion.json").write_text(json.dumps(COMPLETION))
    (root / "stream.sse").write_bytes(stream_body())
    port = free_port()
    (root / "nginx.conf").write_text(NGINX.format(port=port, root=root))
    print(port)


if __name__ == "__main__":
    main()
