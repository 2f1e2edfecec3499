"""The ``chatlane`` command: ``chatlane ask "question"`` and ``chatlane chat``.

Only argument parsing is imported up front; clients, tools and the model load when a
command runs, so ``chatlane --help`` answers at once.
"""

from chatlane.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
