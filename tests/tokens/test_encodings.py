"""The shipped encodings count exactly as OpenAI's, with nothing downloaded."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import itertools
import subprocess
import sys
from importlib import resources
from typing import Any

import pytest

from chatlane.tokens import _encodings as encodings
from chatlane.tokens import count_tokens

tiktoken = pytest.importorskip("tiktoken")

# Token ids as OpenAI's encodings give them ("hello world" is the one tiktoken documents);
# checked against an independent pure-Python BPE implementation over the same files.
CL100K = {
    "hello world": [15339, 1917],
    "Hello, World!": [9906, 11, 4435, 0],
    "naïve café crème brûlée": [3458, 38672, 588, 53050, 1589, 25253, 1437, 30872, 75, 8047],
    "日本語のテキストを数える": [
        9080,
        22656,
        45918,
        252,
        16144,
        57933,
        62903,
        71634,
        30512,
        9039,
        58942,
        30369,
    ],
    "Привет, мир! Как дела?": [
        54745,
        28089,
        8341,
        11,
        11562,
        78746,
        0,
        36479,
        16248,
        95369,
        1506,
        30,
    ],
    "emoji 🤖🚀": [38623, 11410, 97, 244, 9468, 248, 222],
    "<|endoftext|> and <|endofprompt|>": [
        27,
        91,
        8862,
        728,
        428,
        91,
        29,
        323,
        83739,
        408,
        1073,
        41681,
        91,
        29,
    ],
    "def f(x):\n    return x**2\n": [755, 282, 2120, 997, 262, 471, 865, 334, 17, 198],
    "1234567890": [4513, 10961, 16474, 15],
    "I'm you're they'll DON'T": [40, 2846, 499, 2351, 814, 3358, 45373, 17773],
    "": [],
}
O200K = {
    "hello world": [24912, 2375],
    "Hello, World!": [13225, 11, 5922, 0],
    "naïve café crème brûlée": [1503, 9954, 737, 30469, 74945, 69306, 141491],
    "日本語のテキストを数える": [9048, 40909, 3385, 16056, 18368, 38236, 7277, 7135, 133169],
    "Привет, мир! Как дела?": [23881, 131903, 11, 37934, 0, 26029, 78857, 30],
    "emoji 🤖🚀": [75339, 93643, 244, 112927, 222],
    "<|endoftext|> and <|endofprompt|>": [
        27,
        91,
        419,
        1440,
        919,
        91,
        29,
        326,
        464,
        91,
        419,
        1440,
        82467,
        91,
        29,
    ],
    "def f(x):\n    return x**2\n": [1314, 285, 4061, 1883, 271, 622, 1215, 410, 17, 198],
    "1234567890": [7633, 19354, 29338, 15],
    "I'm you're they'll DON'T": [15390, 7163, 57956, 153384],
    "": [],
}


@pytest.mark.parametrize(("name", "expected"), [("cl100k_base", CL100K), ("o200k_base", O200K)])
def test_token_ids(name: str, expected: dict[str, list[int]]) -> None:
    encoding = encodings.get_encoding(name)
    assert encoding is not None
    for text, ids in expected.items():
        assert encoding.encode_ordinary(text) == ids, text


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-4o", O200K), ("openai/gpt-5-mini", O200K), ("gpt-4", CL100K), ("gpt-3.5-turbo", CL100K)],
)
def test_count_tokens_by_model(model: str, expected: dict[str, list[int]]) -> None:
    for text, ids in expected.items():
        assert count_tokens(text, model) == len(ids), text


def test_special_token_text_counts_as_plain_text() -> None:
    # Never one special token, never an error: user text is text.
    assert count_tokens("<|endoftext|>", "gpt-4o") == 7  # < | end of text | >
    assert count_tokens("<|endoftext|>", "gpt-4") == 7


def _reference_bpe(text: str, pattern: str, ranks: dict[bytes, int]) -> list[int]:
    """Byte-pair encoding written out plainly: merge the lowest-ranked pair until none is left."""
    regex: Any = pytest.importorskip("regex")
    ids: list[int] = []
    for piece in regex.findall(pattern, text):
        parts = [bytes([b]) for b in piece.encode("utf-8")]
        while len(parts) > 1:
            pairs = [(ranks.get(a + b), i) for i, (a, b) in enumerate(itertools.pairwise(parts))]
            known = [(rank, i) for rank, i in pairs if rank is not None]
            if not known:
                break
            _rank, i = min(known)
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        ids.extend(ranks[part] for part in parts)
    return ids


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_counts_follow_from_the_files(name: str) -> None:
    ranks = encodings.load_ranks(name)
    pattern = encodings._SPECS[name].pattern
    encoding = encodings.get_encoding(name)
    assert encoding is not None
    texts = [*CL100K, "Ünïcödé façade — “quotes” … ok", "  spaces\n\n\ttabs\r\n", "x" * 64]
    for text in texts:
        assert encoding.encode_ordinary(text) == _reference_bpe(text, pattern, ranks), text


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_pattern_and_special_tokens_are_tiktokens_own(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = importlib.import_module("tiktoken_ext.openai_public")
    monkeypatch.setattr(public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    definition = getattr(public, name)()
    spec = encodings._SPECS[name]
    assert definition["pat_str"] == spec.pattern
    assert definition["special_tokens"] == spec.special_tokens


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_files_match_tiktokens_published_hashes(name: str) -> None:
    spec = encodings._SPECS[name]
    source = importlib.import_module("tiktoken_ext.openai_public")
    assert spec.sha256 in inspect.getsource(source)
    packed = (resources.files("chatlane.tokens") / "data" / spec.file).read_bytes()
    assert hashlib.sha256(gzip.decompress(packed)).hexdigest() == spec.sha256
    ranks = encodings.load_ranks(name)
    assert len(ranks) == (100256 if name == "cl100k_base" else 199998)


def test_building_an_encoding_reads_nothing_through_tiktoken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load = importlib.import_module("tiktoken.load")

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to fetch an encoding file")

    monkeypatch.setattr(load, "read_file", refuse)
    monkeypatch.setattr(load, "read_file_cached", refuse)
    monkeypatch.setattr(encodings, "_cache", {})
    encoding = encodings.get_encoding("cl100k_base")
    assert encoding is not None
    assert encoding.encode_ordinary("hello world") == [15339, 1917]


def test_encodings_are_built_once() -> None:
    assert encodings.get_encoding("o200k_base") is encodings.get_encoding("o200k_base")


def test_unknown_encoding_is_an_error() -> None:
    with pytest.raises(KeyError):
        encodings.get_encoding("p50k_base")


def test_import_loads_no_tokenizer() -> None:
    code = (
        "import sys, chatlane.tokens, chatlane.tokens.trimming, chatlane.tokens.cost;"
        "print(sorted(m for m in ('tiktoken', 'llama_cpp', 'regex') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
