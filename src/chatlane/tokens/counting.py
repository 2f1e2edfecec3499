"""Counting tokens of text and of chat messages, exactly where possible and offline always.

How a model is counted:

- **OpenAI models** (``o200k_base``: gpt-4o, gpt-4.1, gpt-5, o-series; ``cl100k_base``:
  gpt-4, gpt-3.5-turbo, text-embedding-3) use OpenAI's own BPE encodings through tiktoken,
  from files shipped inside chatlane (nothing is downloaded). Needs ``chatlane[tokens]``.
  Messages follow OpenAI's documented chat-format accounting (the OpenAI Cookbook's
  "How to count tokens with tiktoken"): 3 tokens per message, plus the tokens of every
  string field (role, content, name, tool_call_id), plus 1 for a ``name``, plus 3 that prime
  the reply. For plain text messages this equals the ``prompt_tokens`` the API reports
  (``exact=True``).
- **Tool definitions** (``tools=``) use the Cookbook's ``num_tokens_for_tools``
  approximation: per function 7 tokens (10 for cl100k models) + tokens of
  ``"name:description"``; when it has properties 3 + per property 3 + tokens of
  ``"key:type:description"`` (trailing periods dropped), and per enum value 3 + its tokens
  (minus 3 per enum); then 12 for the whole list. Nested schemas beyond the top-level
  properties are not counted. Assistant ``tool_calls`` count as the tokens of each call's
  name and arguments plus 3; images 85 tokens at ``detail="low"``, else 765 (a 1024x1024
  picture at high detail: the size is not known offline); file parts (PDFs) 1,500 per page
  (a page image and its text) where the pages can be counted, else one per 4 bytes of the
  file, and a file sent by id alone as one page; audio parts one per 32 bytes of audio;
  estimates that err high; a part of a kind not known here, its text form. Any of these
  makes the count ``exact=False``.
- **Local models** (``local/...``, ``smollm2``) count with the embedded model's own tokenizer
  and chat template: ``chatlane.LocalModel().engine().count_message_tokens(...)``. Exact for
  messages; tools add an estimate (their JSON through the same tokenizer).
- **Everything else** (and OpenAI models without tiktoken) is an estimate, ``exact=False``,
  ``method="estimate"``: one token per 4 bytes of UTF-8 text (OpenAI's rule of thumb of ~4
  characters per token for English; non-Latin scripts take more bytes per character and
  more tokens), with the same per-message overhead as above.

The encoding comes from the model table (``chatlane.providers.profiles``), or from
``model_info=`` when given: ``ModelInfo(encoding="o200k_base")`` counts a model the table
does not list with that encoding; ``encoding=None`` estimates. Every function takes the text
or the messages first and the model second.

Nothing here imports tiktoken or llama.cpp until a count needs it.
"""

from __future__ import annotations

import binascii
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec

from chatlane.core.errors import RequestValidationError, UsageError
from chatlane.core.messages import MessageParam
from chatlane.core.types import Message
from chatlane.providers.profiles import ModelInfo, encoding_for_model
from chatlane.tokens._encodings import ENCODINGS, get_encoding

if TYPE_CHECKING:
    from chatlane.local.engine import LocalEngine

__all__ = [
    "TokenCount",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "estimate_tokens",
    "is_local_model",
    "message_dict",
    "prompt_count",
]


@dataclass(frozen=True)
class TokenCount:
    """A token count and how it was made."""

    tokens: int
    exact: bool
    """True when the model's own tokenizer counted and no part had to be approximated."""
    method: str
    """``"o200k_base"`` / ``"cl100k_base"`` (tiktoken), ``"local-tokenizer"`` or ``"estimate"``."""


# -- checking what callers pass ------------------------------------------------------------


def checked_model(model: object) -> str:
    """``model`` if it is a model name; a clear error otherwise."""
    if not isinstance(model, str) or not model.strip():
        raise RequestValidationError(
            f"model: must be a non-empty string, got {model!r}", field="model"
        )
    return model


def checked_facts(model_info: object) -> ModelInfo | None:
    """``model_info`` if it is a ``ModelInfo`` (or None); a clear error otherwise."""
    if model_info is not None and not isinstance(model_info, ModelInfo):
        raise UsageError(
            f"model_info must be a chatlane.ModelInfo (or None), not {type(model_info).__name__}"
        )
    return model_info


def checked_messages(messages: object) -> list[Any]:
    """``messages`` as a list, if it holds messages (a list, a Conversation...); a clear error
    otherwise. The messages themselves are checked as they are counted."""
    if type(messages) is list:  # the usual case, without the slower ABC checks
        return messages.copy()
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
        raise RequestValidationError(
            f"messages: must be a list of messages, got {type(messages).__name__}",
            field="messages",
        )
    return list(messages)


def _checked_tools(tools: object) -> Sequence[Mapping[str, Any]] | None:
    if tools is None:
        return None
    if type(tools) is list and all(type(tool) is dict for tool in tools):
        return tools
    if (
        isinstance(tools, str | bytes | Mapping)
        or not isinstance(tools, Sequence)
        or not all(isinstance(tool, Mapping) for tool in tools)
    ):
        raise RequestValidationError(
            "tools: must be a list of tool definitions (mappings)", field="tools"
        )
    return tools


# -- which counter a model gets ------------------------------------------------------------

_LOCAL_NAMES: Final = frozenset({"smollm2"})
_KNOWN_ENCODINGS: Final = frozenset({*ENCODINGS, "o200k_harmony"})


def is_local_model(model: str) -> bool:
    """True for models the embedded engine serves: ``local/...`` (and bare ``smollm2``)."""
    key = model.strip().lower()
    return key.startswith("local/") or key in _LOCAL_NAMES


_LOCAL_MODELS: dict[str, bool] = {}
"""``is_local_model`` of the models counted so far (it runs for every prompt counted)."""


def estimate_tokens(text: str) -> int:
    """The rough count used when no tokenizer is available: one token per 4 UTF-8 bytes."""
    if text.isascii():  # one byte a character, and no copy made to count them
        return (len(text) + 3) // 4
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4)


def _text_counter(
    model: str, model_info: ModelInfo | None
) -> tuple[Callable[[str], int], str, bool]:
    """(count function, method, exact) for text of a non-local ``model``."""
    name = encoding_for_model(model) if model_info is None else model_info.encoding
    counter = _COUNTERS.get(name)
    if counter is not None:
        return counter
    if name is not None and name not in _KNOWN_ENCODINGS:
        raise UsageError(
            f"model_info.encoding: chatlane does not count with {name!r}; use one of "
            f"{', '.join(sorted(_KNOWN_ENCODINGS))}, or None for an estimate",
            model=model,
        )
    counter = _COUNTERS[name] = _counter_for(name)
    return counter


_COUNTERS: dict[str | None, tuple[Callable[[str], int], str, bool]] = {}
"""The counter of each encoding name (at most one per known name), made once."""


def _counter_for(name: str | None) -> tuple[Callable[[str], int], str, bool]:
    if name is not None:
        # o200k_harmony shares o200k_base's vocabulary: text counts are the same, but the
        # harmony chat format's overhead is not the one modelled here.
        encoding = get_encoding("o200k_base" if name == "o200k_harmony" else name)
        if encoding is not None:
            return (
                lambda text: len(encoding.encode_ordinary(text)),
                name,
                name in ENCODINGS,
            )
    return estimate_tokens, "estimate", False


# -- text ---------------------------------------------------------------------------------


def count_tokens(text: str, model: str, *, model_info: ModelInfo | None = None) -> int:
    """Tokens of ``text`` for ``model``: exact for OpenAI and local models, else an estimate.

    ``model_info`` gives the model's facts in place of the table's (its ``encoding``).
    Text that looks like a special token (``<|endoftext|>``) counts as plain text, as the
    API treats it in messages.
    """
    if not isinstance(text, str):
        raise UsageError(f"text must be a string, not {type(text).__name__}")
    model = checked_model(model)
    model_info = checked_facts(model_info)
    if is_local_model(model):
        engine = _local_engine(model)
        if engine is not None:
            return engine.count_tokens(text)
    counter, _method, _exact = _text_counter(model, model_info)
    return counter(text)


# -- messages -----------------------------------------------------------------------------

_TOKENS_PER_MESSAGE: Final = 3
_TOKENS_PER_NAME: Final = 1
_REPLY_PRIMING: Final = 3
_TOKENS_PER_TOOL_CALL: Final = 3
_IMAGE_LOW: Final = 85
_IMAGE_DEFAULT: Final = 765
_PDF_PAGE_TOKENS: Final = 1_500
"""A PDF page as a model reads it: an image of the page (765, as a picture of unknown
size) and its text (a dense page, about 700)."""
_PDF_PAGE: Final = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
"""A page object (not the /Pages tree). Pages packed in compressed object streams are not
seen: such a file is counted by its size."""
_FILE_BYTES_PER_TOKEN: Final = 4
"""A file whose pages cannot be counted counts its bytes as if they were text: more than
its text and page images take for most documents (it errs high)."""
_AUDIO_BYTES_PER_TOKEN: Final = 32
"""Audio takes at most about 20 tokens a second, and speech is seldom sent below 5 kbit/s
(625 bytes a second): one token per 32 bytes errs high."""
# Response-only fields of a returned Message that are not sent back as prompt text.
_NOT_PROMPT: Final = frozenset({"reasoning_content", "reasoning", "reasoning_details"})


def message_dict(message: Any) -> Mapping[str, Any]:
    """``message`` as a mapping: dicts as they are, a ``Message`` struct converted."""
    if type(message) is dict or isinstance(message, Mapping):
        return message
    if isinstance(message, Message):
        converted: dict[str, Any] = msgspec.to_builtins(message)
        converted["role"] = message.role  # omitted by to_builtins when it is the default
        return converted
    raise RequestValidationError(
        f"messages: a message must be a mapping or a Message, not {type(message).__name__}",
        field="messages",
    )


def _content_tokens(content: Any, count: Callable[[str], int]) -> tuple[int, bool]:
    """(tokens, exact) of a message's ``content``: a string or a list of parts."""
    if content is None:
        return 0, True
    if isinstance(content, str):
        return count(content), True
    if not isinstance(content, Iterable):
        return count(str(content)), False
    tokens = 0
    for part in content:
        if not isinstance(part, Mapping):
            tokens += count(str(part))
        elif part.get("type") == "text" or "text" in part:
            tokens += count(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, Mapping) else None
            tokens += _IMAGE_LOW if detail == "low" else _IMAGE_DEFAULT
        elif part.get("type") == "file":
            file = part.get("file")
            data = file.get("file_data") if isinstance(file, Mapping) else None
            tokens += _file_tokens(data)
        elif part.get("type") == "input_audio":
            audio = part.get("input_audio")
            data = audio.get("data") if isinstance(audio, Mapping) else None
            tokens += _audio_tokens(data)
        else:  # a kind of part not known here: its text form, never nothing
            tokens += count(str(part))
    # Parts other than one plain text part are joined by the server in ways not documented.
    return tokens, False


def _audio_tokens(data: object) -> int:
    """An estimate of what a part's base64 audio takes, by its decoded size (an image of
    unknown size when there is no data to measure)."""
    if not isinstance(data, str) or not data:
        return _IMAGE_DEFAULT
    return max(math.ceil(len(data) * 3 / 4 / _AUDIO_BYTES_PER_TOKEN), 1)  # 4 chars: 3 bytes


def _file_tokens(data: object) -> int:
    """An estimate of what a file part (a PDF: its text and an image of each page) takes:
    by its pages where they can be counted, else by its size; a file sent by id alone (not
    here to look at) counts as one page."""
    if not isinstance(data, str) or not data:
        return _PDF_PAGE_TOKENS
    return _data_file_tokens(data)


@functools.lru_cache(maxsize=8)
def _data_file_tokens(data: str) -> int:
    """:func:`_file_tokens` of file data, kept for the latest few files: a conversation's
    PDF is counted again on every turn, and decoding it takes milliseconds."""
    payload = data.partition(",")[2] if data.startswith("data:") else data
    try:
        raw = binascii.a2b_base64(payload)
    except (binascii.Error, ValueError):
        raw = b""
    pages = len(_PDF_PAGE.findall(raw))
    if pages:
        return pages * _PDF_PAGE_TOKENS
    return max(math.ceil(len(payload) * 3 / 4 / _FILE_BYTES_PER_TOKEN), _PDF_PAGE_TOKENS)


def _tool_calls_tokens(calls: Any, count: Callable[[str], int]) -> int:
    tokens = 0
    for call in calls or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            tokens += _TOKENS_PER_TOOL_CALL
            tokens += count(str(function.get("name") or ""))
            tokens += count(str(function.get("arguments") or ""))
    return tokens


def _message_tokens(message: Mapping[str, Any], count: Callable[[str], int]) -> tuple[int, bool]:
    """(tokens, exact) one message adds, by OpenAI's chat-format accounting."""
    tokens = _TOKENS_PER_MESSAGE
    exact = message.get("role") != "tool"
    for key, value in message.items():
        if key == "content" and type(value) is str:  # the usual content: one string
            tokens += count(value)
        elif key == "content":
            content_tokens, content_exact = _content_tokens(value, count)
            tokens += content_tokens
            exact = exact and content_exact
        elif key == "tool_calls":
            if value:
                tokens += _tool_calls_tokens(value, count)
                exact = False
        elif isinstance(value, str) and key not in _NOT_PROMPT:
            tokens += count(value)
            if key == "name":
                tokens += _TOKENS_PER_NAME
    return tokens, exact


def _strip_period(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


def _tools_tokens(
    tools: Sequence[Mapping[str, Any]], count: Callable[[str], int], method: str
) -> int:
    """The OpenAI Cookbook's approximation of what tool definitions add to a prompt."""
    if not tools:
        return 0
    func_init = 10 if method == "cl100k_base" else 7
    prop_init, prop_key, enum_init, enum_item, func_end = 3, 3, -3, 3, 12
    tokens = 0
    for tool in tools:
        function = tool.get("function", tool)
        if not isinstance(function, Mapping):
            continue
        tokens += func_init
        name = str(function.get("name") or "")
        description = _strip_period(str(function.get("description") or ""))
        tokens += count(f"{name}:{description}")
        parameters = function.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        if isinstance(properties, Mapping) and properties:
            tokens += prop_init
            for key, schema in properties.items():
                tokens += prop_key
                schema = schema if isinstance(schema, Mapping) else {}
                enum = schema.get("enum")
                if isinstance(enum, list):
                    tokens += enum_init
                    for item in enum:
                        tokens += enum_item + count(str(item))
                kind = schema.get("type", "")
                kind = ",".join(map(str, kind)) if isinstance(kind, list) else str(kind)
                description = _strip_period(str(schema.get("description") or ""))
                tokens += count(f"{key}:{kind}:{description}")
    return tokens + func_end


def count_message_tokens(
    messages: Sequence[MessageParam],
    model: str,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    model_info: ModelInfo | None = None,
) -> TokenCount:
    """Prompt tokens that ``messages`` (and ``tools``) take for ``model``, reply priming included.

    ``messages`` may mix dicts and ``chatlane.Message`` structs; ``model_info`` gives the
    model's facts in place of the table's. See the module docs for how each kind of model is
    counted and when the result is exact.
    """
    return TokenCount(
        *prompt_count(
            checked_messages(messages),
            checked_model(model),
            _checked_tools(tools),
            checked_facts(model_info),
        )
    )


def prompt_count(
    messages: Sequence[MessageParam],
    model: str,
    tools: Sequence[Mapping[str, Any]] | None,
    model_info: ModelInfo | None,
) -> tuple[int, bool, str]:
    """:func:`count_message_tokens` for arguments already checked (a request chatlane
    validated): (tokens, exact, method)."""
    local = _LOCAL_MODELS.get(model)
    if local is None:
        local = is_local_model(model)
        if len(_LOCAL_MODELS) < 1024:  # bounded: callers may name endless models
            _LOCAL_MODELS[model] = local
    if local:
        counted = _count_local(messages, model, tools)
        if counted is not None:
            return counted.tokens, counted.exact, counted.method
    counter, method, exact = _text_counter(model, model_info)
    tokens = _REPLY_PRIMING
    for message in messages:
        if type(message) is not dict:
            message = message_dict(message)
        message_tokens, message_exact = _message_tokens(message, counter)
        tokens += message_tokens
        exact = exact and message_exact
    if tools:
        tokens += _tools_tokens(tools, counter, method)
        exact = False
    return tokens, exact, method


def message_costs(
    messages: Sequence[MessageParam],
    model: str,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    model_info: ModelInfo | None = None,
) -> tuple[int, list[int]] | None:
    """(fixed tokens, tokens of each message) when counts add up message by message.

    None for local models, whose chat template merges turns: count those as a whole.
    """
    tools = _checked_tools(tools)
    if is_local_model(model) and _local_engine(model) is not None:
        return None
    counter, method, _exact = _text_counter(model, model_info)
    fixed = _REPLY_PRIMING + (_tools_tokens(tools, counter, method) if tools else 0)
    return fixed, [_message_tokens(message_dict(m), counter)[0] for m in messages]


# -- the embedded model -------------------------------------------------------------------


def _local_engine(model: str) -> LocalEngine | None:
    """The embedded engine that serves ``model``, or None when it cannot run here.

    Only the default engine (``chatlane.LocalModel()``) is known from a model name; a
    ``local/NAME`` it does not serve is estimated.
    """
    from chatlane.core.errors import ConfigurationError
    from chatlane.local.settings import LocalModel

    try:
        engine = LocalModel().engine()
    except ConfigurationError:
        return None
    name = model.strip().lower().removeprefix("local/")
    if name not in {engine.model_name.lower(), "smollm2-135m-instruct"}:
        return None
    return engine


def local_context_window(model: str) -> int | None:
    """The context the embedded engine runs ``model`` with (its ``n_ctx``), if it serves it."""
    engine = _local_engine(model) if is_local_model(model) else None
    return None if engine is None else engine.n_ctx


def _count_local(
    messages: Sequence[MessageParam], model: str, tools: Sequence[Mapping[str, Any]] | None
) -> TokenCount | None:
    engine = _local_engine(model)
    if engine is None:
        return None
    dicts = [dict(message_dict(m)) for m in messages]
    tokens = engine.count_message_tokens(dicts)
    if not tools:
        return TokenCount(tokens, True, "local-tokenizer")
    tools_text = json.dumps(list(tools), ensure_ascii=False, separators=(",", ":"))
    return TokenCount(tokens + engine.count_tokens(tools_text), False, "local-tokenizer")
