"""The ``convert_units`` tool: unit conversions by table, not by a model's memory.

Each unit is a factor to its dimension's base unit (metre, kilogram, kelvin, cubic metre,
second, metre per second, byte, square metre); temperatures also have an offset, since
they are affine (0 °C is not 0 K). Units are found by symbol or name, ignoring case where
that is unambiguous. Data symbols keep their case ("MB" is a megabyte; "Mb", a megabit,
is not supported rather than silently read as bytes).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

__all__ = ["Unit", "convert", "convert_units", "find_unit"]

# Kelvin this close below zero is float rounding, not a colder-than-possible temperature:
# -459.67 °F works out at about -6e-14 K.
_ZERO_KELVIN_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Unit:
    symbol: str
    dimension: str
    factor: float
    """Base units per one of this unit."""
    offset: float = 0.0
    """Added after the factor (temperatures): ``base = value * factor + offset``."""
    names: tuple[str, ...] = ()
    """Other spellings, matched without regard to case."""
    exact_symbol: bool = False
    """Match the symbol with its case (data units: "MB" is not "Mb")."""
    symbols: tuple[str, ...] = ()
    """Other symbols, matched like the symbol."""


def _units(dimension: str, *rows: tuple[str, float, tuple[str, ...]]) -> list[Unit]:
    return [Unit(symbol, dimension, factor, names=names) for symbol, factor, names in rows]


def _data(symbol: str, factor: float, name: str, *symbols: str) -> Unit:
    names = (name, f"{name}s")
    return Unit(symbol, "data", factor, names=names, exact_symbol=True, symbols=symbols)


def _plural(*names: str) -> tuple[str, ...]:
    return tuple(spelling for name in names for spelling in (name, f"{name}s"))


UNITS: tuple[Unit, ...] = (
    *_units(
        "length",
        ("m", 1.0, _plural("meter", "metre")),
        ("km", 1000.0, _plural("kilometer", "kilometre")),
        ("cm", 0.01, _plural("centimeter", "centimetre")),
        ("mm", 0.001, _plural("millimeter", "millimetre")),
        ("mi", 1609.344, _plural("mile")),
        ("yd", 0.9144, _plural("yard")),
        ("ft", 0.3048, ("foot", "feet")),
        ("in", 0.0254, ("inch", "inches")),
        ("nmi", 1852.0, _plural("nautical mile")),
    ),
    *_units(
        "mass",
        ("kg", 1.0, (*_plural("kilogram", "kilo"), "kgs")),
        ("g", 0.001, _plural("gram", "gramme")),
        ("mg", 1e-6, _plural("milligram")),
        ("lb", 0.45359237, (*_plural("pound"), "lbs")),
        ("oz", 0.028349523125, _plural("ounce")),
        ("t", 1000.0, _plural("tonne", "metric ton")),
    ),
    Unit("°C", "temperature", 1.0, 273.15, ("C", "celsius", "degC", "degrees celsius")),
    Unit(
        "°F",
        "temperature",
        5 / 9,
        273.15 - 32 * 5 / 9,
        ("F", "fahrenheit", "degF", "degrees fahrenheit"),
    ),
    Unit("K", "temperature", 1.0, 0.0, _plural("kelvin")),
    *_units(
        "volume",
        ("m3", 1.0, ("m³", "cubic meter", "cubic meters", "cubic metre", "cubic metres")),
        ("l", 0.001, _plural("liter", "litre")),
        ("ml", 1e-6, _plural("milliliter", "millilitre")),
        ("gal", 0.003785411784, (*_plural("gallon", "US gallon"), "US gal")),
        ("qt", 0.000946352946, _plural("quart")),
        ("cup", 0.0002365882365, ("cups",)),
    ),
    *_units(
        "time",
        ("s", 1.0, (*_plural("second", "sec"),)),
        ("min", 60.0, _plural("minute", "min")),
        ("h", 3600.0, (*_plural("hour", "hr"),)),
        ("day", 86400.0, ("d", "days")),
        ("week", 604800.0, ("wk", "weeks")),
    ),
    *_units(
        "speed",
        ("m/s", 1.0, ("mps", "meters per second", "metres per second")),
        ("km/h", 1 / 3.6, ("kph", "kmh", "km/hr", "kilometers per hour", "kilometres per hour")),
        ("mph", 0.44704, ("mi/h", "miles per hour")),
        ("knot", 1852 / 3600, ("knots", "kn", "kt")),
    ),
    _data("B", 1.0, "byte"),
    _data("KB", 1e3, "kilobyte", "kB"),
    _data("MB", 1e6, "megabyte"),
    _data("GB", 1e9, "gigabyte"),
    _data("TB", 1e12, "terabyte"),
    _data("KiB", 1024.0, "kibibyte"),
    _data("MiB", 1024.0**2, "mebibyte"),
    _data("GiB", 1024.0**3, "gibibyte"),
    _data("TiB", 1024.0**4, "tebibyte"),
    *_units(
        "area",
        ("m2", 1.0, ("m²", "sq m", *_plural("square meter", "square metre"))),
        ("km2", 1e6, ("km²", "sq km", *_plural("square kilometer", "square kilometre"))),
        ("ha", 1e4, _plural("hectare")),
        ("acre", 4046.8564224, ("acres", "ac")),
        ("ft2", 0.09290304, ("ft²", "sq ft", "square foot", "square feet")),
    ),
)  # fmt: skip


def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a value between units of length, mass, temperature, volume, time, speed, data
    or area.

    Examples of units: m, km, mi, ft, in; kg, g, lb, oz; C, F, K; l, ml, gal, cup; s, min,
    h, day; km/h, mph, knot; MB, GiB; m2, ha, acre.

    Args:
        value: The number to convert.
        from_unit: The unit of the value, as a symbol or a name ("km", "miles", "°F").
        to_unit: The unit to convert to.
    """
    source = find_unit(from_unit)
    target = find_unit(to_unit, dimension=source.dimension)
    result = convert(value, source, target)
    return f"{_number(value, 15)} {source.symbol} = {_number(result, 6)} {target.symbol}"


def convert(value: float, source: Unit, target: Unit) -> float:
    """``value`` in ``source`` units, expressed in ``target`` units (same dimension).

    Raises ``ValueError`` for different dimensions, a temperature below absolute zero, and
    a value or result that is not a finite number (NaN, infinity, or an overflow).
    """
    if source.dimension != target.dimension:
        raise ValueError(
            f"cannot convert {source.symbol} ({source.dimension}) to {target.symbol}"
            f" ({target.dimension}); {source.dimension} units are: {_listing(source.dimension)}"
        )
    if not math.isfinite(value):
        raise ValueError(f"the value must be a finite number, not {value}")
    base = value * source.factor + source.offset
    if source.dimension == "temperature" and base < 0:
        if base < -_ZERO_KELVIN_TOLERANCE:
            raise ValueError(f"{_number(value, 15)} {source.symbol} is below absolute zero")
        base = 0.0
    result = (base - target.offset) / target.factor
    if not math.isfinite(result):
        raise ValueError(
            f"{_number(value, 15)} {source.symbol} is too large to express in {target.symbol}"
        )
    return result


def find_unit(name: str, *, dimension: str | None = None) -> Unit:
    """The unit called ``name``. ``dimension`` only shapes the error's list of known units."""
    spelling = " ".join(name.split())
    exact, folded = _lookup_tables()
    for candidate in (spelling, spelling.removesuffix(".")):
        unit = exact.get(candidate) or folded.get(candidate.casefold())
        if unit is not None:
            return unit
    if dimension is not None:
        raise ValueError(f"unknown unit {name!r}; {dimension} units are: {_listing(dimension)}")
    known = "; ".join(f"{kind}: {_listing(kind)}" for kind in _dimensions())
    raise ValueError(f"unknown unit {name!r}. Known units: {known}")


@functools.cache
def _lookup_tables() -> tuple[dict[str, Unit], dict[str, Unit]]:
    """Exact spellings, and case-folded ones that are not ambiguous."""
    exact: dict[str, Unit] = {}
    folded: dict[str, Unit | None] = {}
    for unit in UNITS:
        symbols = [unit.symbol, *unit.symbols]
        for spelling in [*symbols, *unit.names]:
            exact[spelling] = unit
        for spelling in unit.names if unit.exact_symbol else [*symbols, *unit.names]:
            key = spelling.casefold()
            # Two units folding to one key (none today) would make that key unusable.
            folded[key] = unit if folded.get(key, unit) is unit else None
    return exact, {key: unit for key, unit in folded.items() if unit is not None}


def _dimensions() -> list[str]:
    return list(dict.fromkeys(unit.dimension for unit in UNITS))


def _listing(dimension: str) -> str:
    return ", ".join(unit.symbol for unit in UNITS if unit.dimension == dimension)


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    if "e+" in text and abs(value) < 1e15:
        text = f"{value:.0f}"  # 1609344, not 1.60934e+06
    return "0" if text == "-0" else text
