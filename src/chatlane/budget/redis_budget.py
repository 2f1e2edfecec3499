"""A budget kept in Redis, shared by every process and machine that names it.

Each operation is one Lua script, so a reservation is checked and held in one atomic
step: two processes cannot both see room for the last call. Amounts are whole integers:
dollars in nano-dollars (``chatlane.budget.amounts.NANOS_PER_USD`` to the dollar), tokens
as tokens. The keys share the hash tag of the name, so they sit in one Redis Cluster slot
(``chatlane:budget:{team}`` for ``name="team"``):

- the totals hash: ``spent_usd``, ``reserved_usd`` (nano-dollars), ``spent_tokens``,
  ``reserved_tokens``, ``unpriced``;
- ``...:open`` (reservations in flight, ``id -> "usd:tokens"``), ``...:deadlines``
  (when each expires) and ``...:expired`` (those that expired unsettled, for a day).

Every script is keyed by the reservation's id and does its work once, so a command that
redis-py sends again after a lost reply, or a settlement kept while Redis was down and
applied later, is never counted twice.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatlane._redis import (
    PerLoop,
    aconnect,
    check_url,
    connect,
    guard_secrets,
    import_redis,
    redact,
    scrub,
)
from chatlane.budget.amounts import (
    _checked_optional_tokens,
    _checked_optional_usd,
    _checked_tokens,
    nanos_to_usd,
    usd_to_nanos,
)
from chatlane.budget.errors import BudgetExceeded, BudgetUnavailable
from chatlane.budget.redis_scripts import SCRIPTS, ScriptName
from chatlane.budget.reservations import (
    BudgetState,
    Reservation,
    StateReadings,
    UnknownPricePolicy,
    _checked_policy,
    _new_reservation,
    _state,
)
from chatlane.core.errors import UsageError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["MAX_USD_LIMIT", "BudgetUnavailable", "RedisBudget"]

MAX_USD_LIMIT = 9_000_000.0
"""The largest dollar limit a shared budget takes: Lua compares numbers as doubles, exact
up to 2**53 nano-dollars (about $9.007 million)."""

_MAX_CONNECTIONS = 32
"""Connections each RedisBudget opens at most, per kind (sync, async)."""

_Operation = tuple[ScriptName, tuple[str, ...]]
"""A script to run and its arguments (settlements and releases waiting for Redis)."""
_AsyncScripts = tuple["redis.asyncio.Redis", dict[ScriptName, Any]]
"""An event loop's client and the scripts registered with it."""


class RedisBudget(StateReadings):
    """A :class:`~chatlane.budget.budget.Budget` kept in Redis and shared by every process
    that gives the same ``url``, ``prefix`` and ``name``; the same operations, sync and
    async (``areserve`` / ``asettle`` / ``arelease``, on redis.asyncio: the event loop is
    never blocked).

    Limits are this object's: every process should give the same ``usd`` / ``tokens``.
    What is spent stays in Redis until its keys are deleted; a budget per period is a name
    per period (``name=f"daily-{date}"``).

    If Redis cannot be reached, :meth:`reserve` raises :class:`BudgetUnavailable`: a
    budget that cannot be checked must not silently allow spending. A settlement or
    release that cannot be written is kept and applied before the next operation that
    reaches Redis (and :class:`BudgetUnavailable` is raised to say so). A reservation never
    settled (its process died) expires after ``reservation_ttl`` seconds, which should
    exceed the longest call (the client's total timeout); settled later, it still counts.
    ``timeout`` bounds each try of a Redis command, in seconds (redis-py tries three
    times).

    The URL's password never appears in reprs or errors. Close with :meth:`close` /
    :meth:`aclose` (or ``with`` / ``async with``). Each event loop that uses the async
    operations gets its own connections, closed by :meth:`aclose` on that loop or when the
    loop shuts down.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        usd: float | None = None,
        tokens: int | None = None,
        prefix: str = "chatlane:budget:",
        on_unknown_price: UnknownPricePolicy = "refuse",
        reservation_ttl: float = 900.0,
        timeout: float = 2.0,
    ) -> None:
        redis_module = import_redis("RedisBudget")
        self._url = check_url(redis_module, url)
        self._secrets = guard_secrets(url, self)
        if not isinstance(name, str) or not name or "{" in name or "}" in name:
            raise UsageError(f"name must be a non-empty string without braces, not {name!r}")
        if not isinstance(prefix, str):
            raise UsageError(f"prefix must be a string, not {prefix!r}")
        usd_limit = _checked_optional_usd("usd", usd)
        if usd_limit is not None and usd_limit > MAX_USD_LIMIT:
            raise UsageError(
                f"usd must be at most {MAX_USD_LIMIT:,.0f} for a RedisBudget, not {usd!r}"
            )
        token_limit = _checked_optional_tokens("tokens", tokens)
        if usd_limit is None and token_limit is None:
            raise UsageError("RedisBudget needs a limit: usd=..., tokens=... or both")
        for option, value in (("reservation_ttl", reservation_ttl), ("timeout", timeout)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value < math.inf
            ):
                raise UsageError(f"{option} must be a positive number of seconds, not {value!r}")
        # What redis-py raises when Redis is down, refusing or slow (socket errors included).
        self._errors: tuple[type[Exception], ...] = (
            redis_module.exceptions.RedisError,
            OSError,
        )
        self._name = name
        self._policy = _checked_policy(on_unknown_price)
        self._usd_limit = None if usd_limit is None else usd_to_nanos(usd_limit, rounding="down")
        self._token_limit = token_limit
        self._ttl_ms = max(int(reservation_ttl * 1000), 1)
        self._timeout = float(timeout)
        base = f"{prefix}{{{name}}}"
        self._keys = (base, f"{base}:open", f"{base}:deadlines", f"{base}:expired")
        self._lock = threading.Lock()
        self._open: set[str] = set()
        self._pending: list[_Operation] = []
        self._client: redis.Redis | None = None
        self._scripts: dict[ScriptName, Any] = {}
        self._aclients: PerLoop[_AsyncScripts] = PerLoop(lambda made: made[0].aclose())

    def __repr__(self) -> str:
        return f"RedisBudget({redact(self._url)!r}, name={self._name!r}, {self._limits()})"

    @property
    def key(self) -> str:
        """The Redis key of the totals hash (the other keys add ``:open`` and so on)."""
        return self._keys[0]

    # -- Redis clients -------------------------------------------------------------------

    def _connection(self) -> dict[str, Any]:
        from redis.backoff import ExponentialBackoff

        return {
            "timeout": self._timeout,
            # Every script is idempotent, so a retry after a lost reply is safe; few and
            # short, so a Redis that is down is reported within about the timeout.
            "retries": 2,
            "backoff": ExponentialBackoff(cap=0.1, base=0.01),
            # Many attempts at once wait for a connection rather than fail.
            "max_connections": _MAX_CONNECTIONS,
        }

    def _sync_scripts(self) -> dict[ScriptName, Any]:
        with self._lock:
            if self._client is None:
                client = connect(self._url, **self._connection())
                self._scripts = {name: client.register_script(s) for name, s in SCRIPTS.items()}
                self._client = client
            return self._scripts

    async def _async_scripts(self) -> dict[ScriptName, Any]:
        return (await self._aclients.get(self._make_async_scripts))[1]

    def _make_async_scripts(self) -> _AsyncScripts:
        client = aconnect(self._url, **self._connection())
        return client, {name: client.register_script(s) for name, s in SCRIPTS.items()}

    def close(self) -> None:
        """Close the sync connections (the budget itself stays in Redis)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's async connections (those of other loops are closed when
        their loop shuts down), and the sync ones."""
        await self._aclients.aclose()
        self.close()

    def __enter__(self) -> RedisBudget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> RedisBudget:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- running scripts -----------------------------------------------------------------

    def _unavailable(
        self, exc: Exception, outcome: str, model: str | None = None
    ) -> BudgetUnavailable:
        detail = scrub(f"{type(exc).__name__}: {exc}", self._secrets)
        return BudgetUnavailable(
            f"shared budget {self._name!r} at {redact(self._url)} is unavailable "
            f"({detail}); {outcome}",
            budget=self._name,
            model=model,
        )

    def _run(self, name: ScriptName, args: Sequence[str]) -> Any:
        return self._sync_scripts()[name](keys=self._keys, args=list(args))

    async def _arun(self, name: ScriptName, args: Sequence[str]) -> Any:
        return await (await self._async_scripts())[name](keys=self._keys, args=list(args))

    def _applied(self, operation: _Operation) -> None:
        with self._lock:
            if operation in self._pending:
                self._pending.remove(operation)

    def _waiting(self) -> list[_Operation]:
        with self._lock:
            return list(self._pending)

    def _keep(self, operation: _Operation) -> None:
        with self._lock:
            self._pending.append(operation)

    def _flush(self) -> None:
        """Apply the settlements and releases Redis missed (each counts once, even if two
        threads apply it)."""
        for operation in self._waiting():
            self._run(*operation)
            self._applied(operation)

    async def _aflush(self) -> None:
        for operation in self._waiting():
            await self._arun(*operation)
            self._applied(operation)

    # -- the operations ------------------------------------------------------------------

    def _reservation(self, model: str, usd: float | None, tokens: int) -> Reservation:
        refuse_unpriced = self._usd_limit is not None and self._policy == "refuse"
        return _new_reservation(self, model, usd, tokens, refuse_unpriced=refuse_unpriced)

    def _reserve_args(self, reservation: Reservation) -> tuple[str, ...]:
        usd_limit, token_limit = self._usd_limit, self._token_limit
        return (
            reservation.id,
            str(reservation.usd_nanos),
            str(reservation.tokens),
            "" if usd_limit is None else str(usd_limit),
            "" if token_limit is None else str(token_limit),
            str(self._ttl_ms),
        )

    def _reserved(self, reservation: Reservation, reply: Sequence[bytes]) -> Reservation:
        if reply[0] == b"ok":
            with self._lock:
                self._open.add(reservation.id)
            return reservation
        spent, reserved = int(reply[1]), int(reply[2])
        if reply[0] == b"usd":
            assert self._usd_limit is not None  # the script checks only limits it is given
            raise BudgetExceeded.refusing(
                budget=self._name,
                unit="usd",
                limit=nanos_to_usd(self._usd_limit),
                spent=nanos_to_usd(spent),
                reserved=nanos_to_usd(reserved),
                requested=nanos_to_usd(reservation.usd_nanos),
                model=reservation.model,
            )
        assert self._token_limit is not None
        raise BudgetExceeded.refusing(
            budget=self._name,
            unit="tokens",
            limit=self._token_limit,
            spent=spent,
            reserved=reserved,
            requested=reservation.tokens,
            model=reservation.model,
        )

    _NOT_SENT = "the call was not sent: a budget that cannot be checked does not allow spending"

    def reserve(self, model: str, usd: float | None, tokens: int) -> Reservation:
        """Hold an attempt's worst case, atomically across processes, or raise
        :class:`~chatlane.budget.errors.BudgetExceeded` /
        :class:`~chatlane.budget.errors.UnknownPriceError` and hold nothing; raises
        :class:`BudgetUnavailable` when Redis cannot be reached."""
        reservation = self._reservation(model, usd, tokens)
        try:
            self._flush()
        except self._errors as exc:
            raise self._unavailable(exc, self._NOT_SENT, reservation.model) from None
        try:
            reply = self._run("reserve", self._reserve_args(reservation))
        except self._errors as exc:
            # The script may have run before the reply was lost: give the hold back later.
            self._keep(("release", (reservation.id,)))
            raise self._unavailable(exc, self._NOT_SENT, reservation.model) from None
        return self._reserved(reservation, reply)

    async def areserve(self, model: str, usd: float | None, tokens: int) -> Reservation:
        """:meth:`reserve` on redis.asyncio."""
        reservation = self._reservation(model, usd, tokens)
        try:
            await self._aflush()
        except self._errors as exc:
            raise self._unavailable(exc, self._NOT_SENT, reservation.model) from None
        try:
            reply = await self._arun("reserve", self._reserve_args(reservation))
        except self._errors as exc:
            self._keep(("release", (reservation.id,)))
            raise self._unavailable(exc, self._NOT_SENT, reservation.model) from None
        return self._reserved(reservation, reply)

    def _close(self, reservation: Reservation, action: str) -> None:
        with self._lock:
            if reservation.budget is not self or reservation.id not in self._open:
                raise UsageError(
                    f"cannot {action} {reservation!r}: it is not an open reservation of "
                    f"{self!r} (settled or released already, or made by another budget)"
                )
            self._open.discard(reservation.id)

    def _settlement(self, reservation: Reservation, usd: float | None, tokens: int) -> _Operation:
        usd = _checked_optional_usd("usd", usd)
        tokens = _checked_tokens("tokens", tokens)
        self._close(reservation, "settle")
        # An unknown real price counts as the dollars reserved (the worst case bounds it).
        nanos = reservation.usd_nanos if usd is None else usd_to_nanos(usd)
        unpriced = "1" if usd is None else "0"
        return "settle", (reservation.id, str(nanos), str(tokens), unpriced)

    _KEPT = "the {} is kept and applied once Redis answers"

    def _apply(self, operation: _Operation, what: str) -> None:
        """Run a settlement or release after those Redis missed; keep it if Redis fails."""
        try:
            self._flush()
            self._run(*operation)
        except self._errors as exc:
            self._keep(operation)
            raise self._unavailable(exc, self._KEPT.format(what)) from None

    async def _aapply(self, operation: _Operation, what: str) -> None:
        try:
            await self._aflush()
            await self._arun(*operation)
        except self._errors as exc:
            self._keep(operation)
            raise self._unavailable(exc, self._KEPT.format(what)) from None

    def settle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        """Replace a reservation by what the attempt really cost: ``usd`` dollars (None
        when not known: the reserved dollars are counted instead) and ``tokens``."""
        self._apply(self._settlement(reservation, usd, tokens), "settlement")

    async def asettle(self, reservation: Reservation, usd: float | None, tokens: int) -> None:
        """:meth:`settle` on redis.asyncio."""
        await self._aapply(self._settlement(reservation, usd, tokens), "settlement")

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back whole: its attempt failed before it was billed."""
        self._close(reservation, "release")
        self._apply(("release", (reservation.id,)), "release")

    async def arelease(self, reservation: Reservation) -> None:
        """:meth:`release` on redis.asyncio."""
        self._close(reservation, "release")
        await self._aapply(("release", (reservation.id,)), "release")

    def _state(self, reply: Sequence[bytes | None]) -> BudgetState:
        spent, reserved, spent_tokens, reserved_tokens, unpriced = (
            int(value or 0) for value in reply
        )
        return _state(
            self._name,
            usd_limit=self._usd_limit,
            token_limit=self._token_limit,
            spent_nanos=spent,
            reserved_nanos=reserved,
            spent_tokens=spent_tokens,
            reserved_tokens=reserved_tokens,
            unpriced=unpriced,
        )

    _UNREAD = "its state could not be read"

    def state(self) -> BudgetState:
        """Every number of the budget at one moment, as all processes see it (one round
        trip; settlements kept while Redis was down are applied first)."""
        try:
            self._flush()
            reply = self._run("state", ())
        except self._errors as exc:
            raise self._unavailable(exc, self._UNREAD) from None
        return self._state(reply)

    async def astate(self) -> BudgetState:
        """:meth:`state` on redis.asyncio."""
        try:
            await self._aflush()
            reply = await self._arun("state", ())
        except self._errors as exc:
            raise self._unavailable(exc, self._UNREAD) from None
        return self._state(reply)
