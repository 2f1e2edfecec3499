"""The convert_units tool: conversions by table, aliases, and helpful refusals."""

from __future__ import annotations

import pytest

from chatlane.tools.builtin.units import convert_units


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (10, "km", "mi", "10 km = 6.21371 mi"),
        (1, "mi", "m", "1 mi = 1609.34 m"),
        (1, "mi", "mm", "1 mi = 1609344 mm"),
        (12, "in", "ft", "12 in = 1 ft"),
        (3, "ft", "yd", "3 ft = 1 yd"),
        (1, "nmi", "km", "1 nmi = 1.852 km"),
        (250, "cm", "m", "250 cm = 2.5 m"),
        (1, "kg", "lb", "1 kg = 2.20462 lb"),
        (16, "oz", "lb", "16 oz = 1 lb"),
        (1.5, "t", "kg", "1.5 t = 1500 kg"),
        (500, "mg", "g", "500 mg = 0.5 g"),
        (100, "C", "F", "100 °C = 212 °F"),
        (32, "F", "C", "32 °F = 0 °C"),
        (-40, "C", "F", "-40 °C = -40 °F"),
        (0, "K", "C", "0 K = -273.15 °C"),
        (98.6, "F", "K", "98.6 °F = 310.15 K"),
        (1, "gal", "l", "1 gal = 3.78541 l"),
        (1, "l", "ml", "1 l = 1000 ml"),
        (4, "cup", "qt", "4 cup = 1 qt"),
        (1, "m3", "l", "1 m3 = 1000 l"),
        (90, "min", "h", "90 min = 1.5 h"),
        (2, "week", "day", "2 week = 14 day"),
        (1, "day", "s", "1 day = 86400 s"),
        (100, "km/h", "mph", "100 km/h = 62.1371 mph"),
        (10, "m/s", "km/h", "10 m/s = 36 km/h"),
        (1, "knot", "km/h", "1 knot = 1.852 km/h"),
        (1, "GiB", "MB", "1 GiB = 1073.74 MB"),
        (1, "TB", "GB", "1 TB = 1000 GB"),
        (1, "MiB", "KiB", "1 MiB = 1024 KiB"),
        (2048, "B", "KiB", "2048 B = 2 KiB"),
        (1, "ha", "m2", "1 ha = 10000 m2"),
        (1, "km2", "ha", "1 km2 = 100 ha"),
        (1, "acre", "ft2", "1 acre = 43560 ft2"),
        (0.5, "km", "m", "0.5 km = 500 m"),
    ],
)
def test_conversions(value: float, source: str, target: str, expected: str) -> None:
    assert convert_units(value, source, target) == expected


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("miles", "kilometers", "1 mi = 1.60934 km"),
        ("Kilometres", "Metre", "1 km = 1000 m"),
        ("celsius", "Fahrenheit", "1 °C = 33.8 °F"),
        ("°C", "°F", "1 °C = 33.8 °F"),
        ("c", "k", "1 °C = 274.15 K"),
        ("pounds", "KG", "1 lb = 0.453592 kg"),
        ("  square   feet ", "sq m", "1 ft2 = 0.092903 m2"),
        ("ft.", "inches", "1 ft = 12 in"),
        ("hours", "minutes", "1 h = 60 min"),
        ("megabytes", "kB", "1 MB = 1000 KB"),
        ("m²", "ft²", "1 m2 = 10.7639 ft2"),
        ("mph", "knots", "1 mph = 0.868976 knot"),
    ],
)
def test_aliases_and_case(source: str, target: str, expected: str) -> None:
    assert convert_units(1, source, target) == expected


def test_data_symbols_keep_their_case() -> None:
    # "Mb" is a megabit: refusing it beats silently reading it as a megabyte.
    with pytest.raises(ValueError, match="unknown unit 'Mb'; data units are: B, KB, MB"):
        convert_units(1, "MB", "Mb")
    with pytest.raises(ValueError, match="unknown unit 'mb'"):
        convert_units(1, "mb", "B")


def test_incompatible_dimensions_list_the_right_units() -> None:
    with pytest.raises(ValueError, match="cannot convert") as caught:
        convert_units(1, "kg", "m")
    assert str(caught.value) == (
        "cannot convert kg (mass) to m (length); mass units are: kg, g, mg, lb, oz, t"
    )


def test_unknown_units() -> None:
    with pytest.raises(ValueError, match="unknown unit") as caught:
        convert_units(1, "furlong", "m")
    text = str(caught.value)
    assert text.startswith("unknown unit 'furlong'. Known units: length: m, km, cm, mm, mi")
    for dimension in ("mass", "temperature", "volume", "time", "speed", "data", "area"):
        assert f"; {dimension}: " in text
    with pytest.raises(ValueError, match="unknown unit 'parsecs'; length units are: m, km"):
        convert_units(1, "km", "parsecs")


def test_below_absolute_zero() -> None:
    with pytest.raises(ValueError, match="-300 °C is below absolute zero"):
        convert_units(-300, "C", "K")


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (-459.67, "F", "K", "-459.67 °F = 0 K"),  # float rounding puts this at -6e-14 K
        (-459.67, "F", "C", "-459.67 °F = -273.15 °C"),
        (-273.15, "C", "K", "-273.15 °C = 0 K"),
        (0, "K", "F", "0 K = -459.67 °F"),
    ],
)
def test_absolute_zero_itself_converts(
    value: float, source: str, target: str, expected: str
) -> None:
    assert convert_units(value, source, target) == expected


def test_just_below_absolute_zero_is_still_refused() -> None:
    with pytest.raises(ValueError, match=r"-459\.68 °F is below absolute zero"):
        convert_units(-459.68, "F", "K")
    with pytest.raises(ValueError, match="below absolute zero"):
        convert_units(-1e-6, "K", "C")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_values_that_are_not_finite_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match=f"the value must be a finite number, not {value}"):
        convert_units(value, "km", "m")


def test_results_too_large_for_a_float_are_refused() -> None:
    with pytest.raises(ValueError, match="1e\\+308 km is too large to express in mm"):
        convert_units(1e308, "km", "mm")
    with pytest.raises(ValueError, match="too large to express in B"):
        convert_units(1e300, "TiB", "B")
    assert convert_units(1e300, "mm", "km") == "1e+300 mm = 1e+294 km"
