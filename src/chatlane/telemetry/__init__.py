"""Usage records and OpenTelemetry: ``Client(telemetry=chatlane.Telemetry(jsonl="usage.jsonl"))``.
See :mod:`chatlane.telemetry.piece`, :mod:`chatlane.telemetry.record` and
:mod:`chatlane.telemetry.otel`."""

from chatlane.telemetry.piece import Telemetry
from chatlane.telemetry.record import UsageRecord

__all__ = ["Telemetry", "UsageRecord"]
