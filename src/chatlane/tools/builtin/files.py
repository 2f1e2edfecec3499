"""``file_tools``: let a model read and list files, inside one directory only.

Every path the model gives is resolved (symbolic links followed, ``..`` applied) and must
land inside the allowed directory, so ``../secrets``, ``/etc/passwd`` and a link pointing out
are all refused. Messages show paths relative to the allowed directory, never where it is:
every filesystem call is guarded, because an ``OSError``'s text carries the absolute path
(``File name too long: '/home/me/notes/aaa...'``); the model gets its ``strerror`` only.

This guards against a model wandering off, not against a local attacker who swaps files for
links between the check and the read.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from pathlib import Path

from chatlane.tools.definition import Tool
from chatlane.tools.errors import ToolDefinitionError

__all__ = ["MAX_LISTED", "file_tools"]

MAX_LISTED = 200
"""Entries ``list_files`` shows before it says how many more there are."""
_SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB marks a binary file, as git decides


def file_tools(allow_dir: str | os.PathLike[str], *, max_bytes: int = 100_000) -> list[Tool]:
    """``read_file`` and ``list_files`` tools confined to ``allow_dir``.

    ``read_file`` returns at most ``max_bytes`` of a UTF-8 text file (with a note when it
    truncates) and refuses binary files. Raises ``ToolDefinitionError`` when ``allow_dir``
    is not an existing directory.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ToolDefinitionError(f"max_bytes must be a positive int, not {max_bytes!r}")
    root = Path(allow_dir).expanduser()
    if not root.is_dir():
        raise ToolDefinitionError(f"allow_dir {str(allow_dir)!r} is not an existing directory")
    folder = _Folder(root.resolve(), max_bytes)

    def read_file(path: str) -> str:
        """Read a text file.

        Args:
            path: The file's path, relative to the directory you may read (for example
                "notes.txt" or "docs/guide.md").
        """
        return folder.read(path)

    def list_files(path: str = ".") -> str:
        """List the files and folders in a directory (folders end with "/").

        Args:
            path: The directory, relative to the directory you may read; "." for its top.
        """
        return folder.listing(path)

    return [Tool(read_file), Tool(list_files)]


class _Folder:
    """The allowed directory and the two operations on it."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def read(self, path: str) -> str:
        target = self._inside(path)
        shown = self._shown(target)
        try:
            mode = _mode(target)
            if mode is None:
                raise ValueError(f"no such file: {shown!r}")
            if stat.S_ISDIR(mode):
                raise ValueError(f"{shown!r} is a directory; use list_files")
            if not stat.S_ISREG(mode):
                raise ValueError(f"{shown!r} is not a regular file")
            with target.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                data = file.read(self.max_bytes)
        except OSError as error:
            raise ValueError(f"cannot read {shown!r}: {_reason(error)}") from None
        if b"\x00" in data[:_SNIFF_BYTES]:
            raise ValueError(f"{shown!r} is a binary file, not text")
        if size <= len(data):
            return data.decode("utf-8", errors="replace")
        # Cut inside a multi-byte character? The incremental decoder holds the partial bytes.
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data)
        return f"{text}\n[truncated: {len(data)} of {size} bytes shown]"

    def listing(self, path: str) -> str:
        target = self._inside(path or ".")
        shown = self._shown(target)
        try:
            mode = _mode(target)
            if mode is None:
                raise ValueError(f"no such directory: {shown!r}")
            if not stat.S_ISDIR(mode):
                raise ValueError(f"{shown!r} is a file, not a directory; use read_file")
            with os.scandir(target) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            names = [_entry_name(entry) for entry in entries]
        except OSError as error:
            raise ValueError(f"cannot list {shown!r}: {_reason(error)}") from None
        if not names:
            return "(empty directory)"
        if len(names) > MAX_LISTED:
            hidden = len(names) - MAX_LISTED
            names = [*names[:MAX_LISTED], f"[{hidden} more entries not shown]"]
        return "\n".join(names)

    def _inside(self, path: str) -> Path:
        """``path`` resolved, if it is inside the allowed directory; else a ValueError."""
        if "\x00" in path:
            raise ValueError("a path cannot contain NUL characters")
        # An absolute path replaces the root in the join; resolving follows links and "..".
        try:
            resolved = (self.root / path).resolve()
        except (OSError, RuntimeError) as error:  # a symbolic link loop, a name too long, ...
            raise ValueError(f"cannot resolve the path {path!r}: {_reason(error)}") from None
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise ValueError(
                f"{path!r} is outside the allowed directory; use a path relative to it"
            )
        return resolved

    def _shown(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix() or "."


def _mode(target: Path) -> int | None:
    """``target``'s file type and mode (links followed), or None when there is nothing there.

    One ``stat`` instead of ``is_dir()``/``exists()``, which swallow different errors in
    different Python versions (a link loop is "missing" in one, an error in another); any
    other failure is raised as the ``OSError`` it is.
    """
    try:
        return target.stat().st_mode
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):  # "docs/nope", "notes.txt/x"
            return None
        raise


def _entry_name(entry: os.DirEntry[str]) -> str:
    """The entry's name, with "/" for a directory (a link is shown as what it points to)."""
    try:
        is_dir = entry.is_dir()
    except OSError:  # a link loop, or a link into a place we may not look: not a directory
        is_dir = False
    return entry.name + ("/" if is_dir else "")


def _reason(error: Exception) -> str:
    """Why a filesystem call failed, without the absolute path ``str(error)`` would show."""
    if isinstance(error, OSError):
        if error.strerror:
            return error.strerror
        return os.strerror(error.errno) if error.errno else type(error).__name__
    # Before Python 3.13, Path.resolve() raises RuntimeError for a symbolic link loop.
    return os.strerror(errno.ELOOP)
