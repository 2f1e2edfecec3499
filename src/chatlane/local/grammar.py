"""GBNF grammars that make the model's output well-formed by construction.

llama.cpp masks every token the grammar does not allow, so the sampled text always parses:

- :func:`schema_grammar`: a JSON value matching a JSON schema (structured output);
- :func:`choice_grammar`: exactly one of a few words (the tool decision);
- :func:`tool_calls_grammar`: a JSON array of calls ``{"name": N, "arguments": A}`` where each
  ``A`` matches the parameters schema of *its own* tool ``N`` (one tool per array).

Schemas are converted by llama.cpp's own converter (see :mod:`chatlane.local._llama`); the
rules here only combine the converted pieces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chatlane.local._llama import schema_grammar_rules
from chatlane.local.request import ToolSpec

__all__ = [
    "MAX_PARALLEL_CALLS",
    "call_prefix",
    "choice_grammar",
    "schema_grammar",
    "tool_calls_grammar",
]

MAX_PARALLEL_CALLS = 4
"""Upper bound on calls in one reply: a small model can otherwise repeat a call until the
token budget runs out."""


def _literal(text: str) -> str:
    """A GBNF string literal (GBNF escapes like JSON for the characters that matter here)."""
    return json.dumps(text, ensure_ascii=False)


def call_prefix(name: str) -> str:
    """The exact text a call to ``name`` starts with, up to its arguments."""
    return '{"name": ' + json.dumps(name) + ', "arguments": '


def schema_grammar(schema: Mapping[str, Any]) -> str:
    """Grammar for one JSON value matching ``schema``. Raises ValueError if unsupported."""
    # Not "value": the converter's own rules for free-form JSON use that name, and root
    # would then accept any JSON value instead of the schema.
    rules = schema_grammar_rules([("answer", schema)])
    return f"root ::= answer\n{rules}"


def choice_grammar(options: Sequence[str]) -> str:
    """Grammar for exactly one of ``options``."""
    return "root ::= " + " | ".join(_literal(option) for option in options)


def tool_calls_grammar(
    tools: Sequence[ToolSpec], *, tool: str | None = None, max_calls: int = 1
) -> str:
    """Grammar for a JSON array of 1..max_calls calls, all to one tool.

    The model picks the tool with the first call's name (``tool`` picks it instead); the
    arguments of each call follow that tool's own parameters schema. Further calls repeat
    the tool (the weather in two cities): let free to mix tools, the model tacked unrelated
    calls onto correct ones (in seven of ten test requests with four tools), and an agent
    would run them. Raises ValueError when a parameters schema cannot be expressed.
    """
    pieces = [(f"args-{i}", spec.parameters) for i, spec in enumerate(tools)]
    rules = schema_grammar_rules(pieces)
    more = f' ("," space call-{{i}}){{{{0,{max_calls - 1}}}}}' if max_calls > 1 else ""
    lines: list[str] = []
    for i, spec in enumerate(tools):
        lines.append(f"call-{i} ::= {_literal(call_prefix(spec.name))} args-{i} " + '"}"')
        lines.append(f"calls-{i} ::= call-{i}" + more.format(i=i))
    chosen = [i for i, spec in enumerate(tools) if tool is None or spec.name == tool]
    lines.append('root ::= "[" (' + " | ".join(f"calls-{i}" for i in chosen) + ') "]"')
    return "\n".join(lines) + "\n" + rules
