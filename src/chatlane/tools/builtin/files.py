"""``file_tools``: let a model read and list files, inside one directory only.

Every path the model gives is resolved (symbolic links followed, ``..`` applied) and must
land inside the allowed directory, so ``../secrets``, ``/etc/passwd`` and a link pointing out
are all refused. Messages show paths relative to the allowed directory, never where it is.

This guards against a model wandering off, not against a local attacker who swaps files for
links between the check and the read.
"""

from __future__ import annotations

import codecs
import os
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
        if target.is_dir():
            raise ValueError(f"{self._shown(target)!r} is a directory; use list_files")
        if not target.exists():
            raise ValueError(f"no such file: {self._shown(target)!r}")
        if not target.is_file():
            raise ValueError(f"{self._shown(target)!r} is not a regular file")
        try:
            with target.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                data = file.read(self.max_bytes)
        except OSError as error:
            raise ValueError(f"cannot read {self._shown(target)!r}: {error.strerror}") from None
        if b"\x00" in data[:_SNIFF_BYTES]:
            raise ValueError(f"{self._shown(target)!r} is a binary file, not text")
        if size <= len(data):
            return data.decode("utf-8", errors="replace")
        # Cut inside a multi-byte character? The incremental decoder holds the partial bytes.
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data)
        return f"{text}\n[truncated: {len(data)} of {size} bytes shown]"

    def listing(self, path: str) -> str:
        target = self._inside(path or ".")
        if not target.exists():
            raise ValueError(f"no such directory: {self._shown(target)!r}")
        if not target.is_dir():
            raise ValueError(f"{self._shown(target)!r} is a file, not a directory; use read_file")
        try:
            entries = sorted(os.scandir(target), key=lambda entry: entry.name)
        except OSError as error:
            raise ValueError(f"cannot list {self._shown(target)!r}: {error.strerror}") from None
        if not entries:
            return "(empty directory)"
        names = [entry.name + ("/" if entry.is_dir() else "") for entry in entries]
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
        except (OSError, RuntimeError):  # a symbolic link loop, a name too long, ...
            raise ValueError(f"cannot resolve the path {path!r}") from None
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise ValueError(
                f"{path!r} is outside the allowed directory; use a path relative to it"
            )
        return resolved

    def _shown(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix() or "."
