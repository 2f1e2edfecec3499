"""Pieces around "send one request": the seam the production layer plugs into.

Subclass :class:`Middleware` and pass instances to ``Client(middleware=[...])`` (or
``AsyncClient``). Where each method runs, and how a piece is written once for both
clients, is described in ``Middleware``'s module, ``chatlane._call.layers``, and in the
README's "Middleware" section.
"""

from __future__ import annotations

from chatlane._call.call import Call
from chatlane._call.layers import Flow, Middleware, Proceed
from chatlane._call.steps import Deliver, Io, Sleep

__all__ = ["Call", "Deliver", "Flow", "Io", "Middleware", "Proceed", "Sleep"]
