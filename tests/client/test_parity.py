"""The sync and async clients have the same surface."""

from __future__ import annotations

import inspect

import pytest

import chatlane

PAIRS = [(chatlane.Client, chatlane.AsyncClient), (chatlane.ChatStream, chatlane.AsyncChatStream)]
SYNC_ONLY = {"__enter__", "__exit__", "__iter__", "__next__"}
ASYNC_ONLY = {"__aenter__", "__aexit__", "__aiter__", "__anext__", "__await__"}


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name == "__init__")
    }


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS)
def test_same_methods_with_same_parameters(sync_cls: type, async_cls: type) -> None:
    sync_methods = public_methods(sync_cls)
    async_methods = public_methods(async_cls)
    assert sync_methods.keys() == async_methods.keys()
    for name, signature in sync_methods.items():
        other = async_methods[name]
        assert list(signature.parameters) == list(other.parameters), name
        for param in signature.parameters.values():
            twin = other.parameters[param.name]
            assert (param.kind, param.default) == (twin.kind, twin.default), f"{name}({param.name})"

            def plain(annotation: object) -> str:
                return str(annotation).replace("Async", "").replace("Sync", "")

            assert plain(param.annotation) == plain(twin.annotation), f"{name}({param.name})"


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS)
def test_async_methods_are_coroutines_where_sync_ones_do_io(
    sync_cls: type, async_cls: type
) -> None:
    for name in public_methods(sync_cls):
        if name in {"__init__", "stream", "summary", "parse_stream", "resolve"}:
            assert not inspect.iscoroutinefunction(getattr(async_cls, name)), name
        else:
            assert inspect.iscoroutinefunction(getattr(async_cls, name)), name


def test_protocol_dunders() -> None:
    assert set(dir(chatlane.ChatStream)) >= SYNC_ONLY
    assert set(dir(chatlane.AsyncChatStream)) >= ASYNC_ONLY
