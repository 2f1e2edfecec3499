from __future__ import annotations

import ast
import importlib
import pathlib
import types

import pytest

import chatlane

SRC = pathlib.Path(chatlane.__file__).parent


def test_all_is_sorted_and_unique() -> None:
    names = list(chatlane.__all__)

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def group(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert names == sorted(names, key=group)
    assert len(names) == len(set(names))


def test_every_public_name_is_exported_and_resolves() -> None:
    for name in chatlane.__all__:
        assert getattr(chatlane, name) is not None, name
    public = {
        name
        for name, value in vars(chatlane).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(chatlane.__all__) - {"__version__"}


def test_core_imports_no_outer_layer() -> None:
    """core/ is pure: it may import only itself, the standard library and msgspec."""
    for path in (SRC / "core").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            else:
                continue
            if module.startswith("chatlane"):
                assert module.startswith("chatlane.core"), f"{path.name} imports {module}"
            else:
                assert module.split(".")[0] not in {"urllib3", "aiohttp", "socket", "asyncio"}, (
                    f"{path.name} imports {module}"
                )


def test_package_is_typed() -> None:
    assert (SRC / "py.typed").exists()


PUBLIC_PACKAGES = [
    "agent",
    "conversation",
    "local",
    "middleware",
    "providers",
    "structured",
    "testing",
    "tokens",
    "tools",
    "transport",
]


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_every_public_name_of_a_subpackage_is_importable_from_chatlane(package: str) -> None:
    module = importlib.import_module(f"chatlane.{package}")
    for name in module.__all__:
        assert name in chatlane.__all__, f"chatlane.{package}.{name}"
        assert getattr(chatlane, name) is getattr(module, name), f"chatlane.{package}.{name}"


def test_client_modules_are_private() -> None:
    for cls in (chatlane.Client, chatlane.AsyncClient, chatlane.ChatStream, chatlane.PingResult):
        assert cls.__module__.startswith(("chatlane._client.", "chatlane._call.")), cls
    for old in ("chatlane.client", "chatlane.async_client", "chatlane.ping", "chatlane.endpoints"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)


def test_lazy_names_resolve_from_the_type_checking_block_alone() -> None:
    from chatlane._lazy import lazy_homes

    homes = lazy_homes(chatlane.__file__)
    assert homes["Agent"] == "chatlane.agent"
    assert homes["FakeServer"] == "chatlane.testing"
    assert set(homes) <= set(chatlane.__all__)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = chatlane.NoSuchName


@pytest.mark.parametrize(("client", "other"), [("AsyncClient", "urllib3"), ("Client", "aiohttp")])
def test_each_client_imports_only_its_own_http_library(client: str, other: str) -> None:
    import subprocess
    import sys

    probe = (
        f"import sys, chatlane\n"
        f"chatlane.{client}(base_url='http://127.0.0.1:9/v1', api_key='k')\n"
        f"assert {other!r} not in sys.modules, 'chatlane.{client} imported {other}'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
