"""file_tools: reading and listing inside one directory, and nothing outside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatlane.tools import Tool, Toolbox, ToolDefinitionError, file_tools


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    (allowed / "docs" / "deep").mkdir(parents=True)
    (allowed / "notes.txt").write_text("hello\nworld\n")
    (allowed / "docs" / "guide.md").write_text("# Guide\n")
    (allowed / "docs" / "deep" / "x.txt").write_text("x")
    (tmp_path / "secret.txt").write_text("top secret")
    return allowed


def tools(root: Path, **options: int) -> tuple[Tool, Tool]:
    read_file, list_files = file_tools(root, **options)
    return read_file, list_files


def test_definitions(root: Path) -> None:
    read_file, list_files = tools(root)
    assert (read_file.name, list_files.name) == ("read_file", "list_files")
    assert read_file.parameters["required"] == ["path"]
    assert list_files.parameters["properties"]["path"]["default"] == "."
    assert "relative to the directory" in read_file.parameters["properties"]["path"]["description"]


def test_read_inside(root: Path) -> None:
    read_file, _ = tools(root)
    assert read_file(path="notes.txt") == "hello\nworld\n"
    assert read_file(path="docs/guide.md") == "# Guide\n"
    assert read_file(path="docs/../notes.txt") == "hello\nworld\n"
    assert read_file(path=str(root / "notes.txt")) == "hello\nworld\n"  # absolute, but inside


@pytest.mark.parametrize("path", ["../secret.txt", "docs/../../secret.txt", "/etc/passwd", ".."])
def test_escapes_are_refused(root: Path, path: str) -> None:
    read_file, list_files = tools(root)
    with pytest.raises(ValueError, match="is outside the allowed directory") as caught:
        read_file(path=path)
    assert str(root) not in str(caught.value)
    with pytest.raises(ValueError, match="is outside the allowed directory"):
        list_files(path=path)


def test_absolute_path_to_a_sibling_is_refused(root: Path) -> None:
    read_file, _ = tools(root)
    with pytest.raises(ValueError, match="outside the allowed directory"):
        read_file(path=str(root.parent / "secret.txt"))


def test_symlinks_pointing_out_are_refused_and_inside_ones_work(root: Path) -> None:
    os.symlink(root.parent / "secret.txt", root / "leak.txt")
    os.symlink(root.parent, root / "up")
    os.symlink(root / "notes.txt", root / "alias.txt")
    read_file, list_files = tools(root)
    with pytest.raises(ValueError, match=r"'leak\.txt' is outside the allowed directory"):
        read_file(path="leak.txt")
    with pytest.raises(ValueError, match="outside the allowed directory"):
        read_file(path="up/secret.txt")
    with pytest.raises(ValueError, match="outside the allowed directory"):
        list_files(path="up")
    assert read_file(path="alias.txt") == "hello\nworld\n"


def test_a_symlinked_allowed_directory_still_works(root: Path, tmp_path: Path) -> None:
    os.symlink(root, tmp_path / "link")
    read_file, _ = tools(tmp_path / "link")
    assert read_file(path="notes.txt") == "hello\nworld\n"


def test_binary_missing_and_directory(root: Path) -> None:
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    read_file, list_files = tools(root)
    with pytest.raises(ValueError, match=r"'image\.png' is a binary file"):
        read_file(path="image.png")
    with pytest.raises(ValueError, match=r"no such file: 'docs/missing\.md'"):
        read_file(path="docs/missing.md")
    with pytest.raises(ValueError, match=r"'docs' is a directory; use list_files"):
        read_file(path="docs")
    with pytest.raises(ValueError, match=r"'notes\.txt' is a file, not a directory"):
        list_files(path="notes.txt")
    with pytest.raises(ValueError, match="no such directory: 'nope'"):
        list_files(path="nope")


def test_invalid_utf8_is_replaced(root: Path) -> None:
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    read_file, _ = tools(root)
    assert read_file(path="latin1.txt") == "caf\ufffd"


def test_truncation(root: Path) -> None:
    (root / "big.txt").write_text("a" * 250)
    (root / "accents.txt").write_text("é" * 10)  # two bytes each
    read_file, _ = tools(root, max_bytes=100)
    assert read_file(path="big.txt") == "a" * 100 + "\n[truncated: 100 of 250 bytes shown]"
    assert read_file(path="notes.txt") == "hello\nworld\n"
    read_small, _ = tools(root, max_bytes=5)
    # A character cut in half is dropped, not shown as a replacement character.
    assert read_small(path="accents.txt") == "éé\n[truncated: 5 of 20 bytes shown]"


def test_listing(root: Path) -> None:
    (root / "b.txt").write_text("")
    _, list_files = tools(root)
    assert list_files() == "b.txt\ndocs/\nnotes.txt"
    assert list_files(path="docs") == "deep/\nguide.md"
    assert list_files(path="docs/deep/") == "x.txt"
    (root / "empty").mkdir()
    assert list_files(path="empty") == "(empty directory)"


def test_long_listings_are_capped(root: Path) -> None:
    many = root / "many"
    many.mkdir()
    for index in range(205):
        (many / f"f{index:03d}.txt").write_text("")
    _, list_files = tools(root)
    lines = list_files(path="many").splitlines()
    assert len(lines) == 201
    assert lines[0] == "f000.txt"
    assert lines[199] == "f199.txt"
    assert lines[200] == "[5 more entries not shown]"


def test_allow_dir_must_be_an_existing_directory(root: Path) -> None:
    with pytest.raises(ToolDefinitionError, match="not an existing directory"):
        file_tools(root / "missing")
    with pytest.raises(ToolDefinitionError, match="not an existing directory"):
        file_tools(root / "notes.txt")
    with pytest.raises(ToolDefinitionError, match="max_bytes"):
        file_tools(root, max_bytes=0)


def test_through_a_toolbox_errors_reach_the_model(root: Path) -> None:
    box = Toolbox(file_tools(root))
    escape = box.run(
        {"id": "1", "function": {"name": "read_file", "arguments": '{"path": "../secret.txt"}'}}
    )
    assert escape.content == (
        "Error: read_file failed: ValueError: '../secret.txt' is outside the allowed directory;"
        " use a path relative to it"
    )
    listing = box.run({"id": "2", "function": {"name": "list_files", "arguments": ""}})
    assert listing.content == "docs/\nnotes.txt"


def refused(function: Tool, path: str) -> str:
    """The message of the ValueError ``function(path=path)`` raises."""
    with pytest.raises(ValueError, match=r"\S") as caught:
        function(path=path)
    return str(caught.value)


def assert_hidden(root: Path, text: str) -> None:
    """The absolute allowed directory (or its parent) appears nowhere in ``text``."""
    assert str(root.parent) not in text
    assert str(root.resolve().parent) not in text


def test_a_name_too_long_names_the_path_relative_and_nothing_else(root: Path) -> None:
    read_file, list_files = tools(root)
    long_name = "a" * 300
    for name in (long_name, f"docs/{long_name}", f"{long_name}/x.txt"):
        assert refused(read_file, name) == f"cannot read {name!r}: File name too long"
        assert refused(list_files, name) == f"cannot list {name!r}: File name too long"
    result = Toolbox(file_tools(root)).run(
        {"id": "1", "function": {"name": "read_file", "arguments": f'{{"path": "{long_name}"}}'}}
    )
    assert result.content == (
        f"Error: read_file failed: ValueError: cannot read '{long_name}': File name too long"
    )
    assert_hidden(root, result.content)


def test_a_symbolic_link_loop_is_an_error_without_the_directory(root: Path) -> None:
    os.symlink("loop", root / "loop")
    os.symlink("ping", root / "docs" / "pong")
    os.symlink("pong", root / "docs" / "ping")
    read_file, list_files = tools(root)
    for path in ("loop", "docs/ping", "loop/x.txt"):
        for function in (read_file, list_files):
            # Python < 3.13 fails to resolve the path, later versions to read it.
            message = refused(function, path)
            assert message.startswith(("cannot resolve the path", "cannot read", "cannot list"))
            assert message.endswith(f"{path!r}: Too many levels of symbolic links")
    # A loop inside a listed directory is shown as an entry, not an error.
    assert list_files(path="docs") == "deep/\nguide.md\nping\npong"
    assert list_files() == "docs/\nloop\nnotes.txt"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and lists anything: no EACCES")
def test_permission_denied_is_an_error_without_the_directory(root: Path) -> None:
    (root / "locked.txt").write_text("no")
    (root / "locked.txt").chmod(0)
    (root / "closed").mkdir()
    (root / "closed" / "inner.txt").write_text("no")
    (root / "closed").chmod(0)
    read_file, list_files = tools(root)
    try:
        assert refused(read_file, "locked.txt") == "cannot read 'locked.txt': Permission denied"
        assert refused(list_files, "closed") == "cannot list 'closed': Permission denied"
        assert (
            refused(read_file, "closed/inner.txt")
            == "cannot read 'closed/inner.txt': Permission denied"
        )
    finally:
        (root / "closed").chmod(0o755)
