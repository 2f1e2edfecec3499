"""The calculator tool: arithmetic by AST walking, and refusal of everything else."""

from __future__ import annotations

import time

import pytest

from chatlane.tools import Toolbox, builtin_tools
from chatlane.tools.builtin.calculator import calculator


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("7 / 2", "3.5"),
        ("7 // 2", "3"),
        ("-7 % 3", "2"),
        ("2 ** 10", "1024"),
        ("2 ^ 10", "1024"),
        ("2 ^ 3 + 1", "9"),
        ("-2 ** 2", "-4"),
        ("+5", "5"),
        ("2 ** -1", "0.5"),
        ("0.1 + 0.2", "0.3"),
        ("1 / 3", "0.333333333333333"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.4142135623731"),
        ("cbrt(27)", "3"),
        ("exp(0)", "1"),
        ("log(e)", "1"),
        ("log(8, 2)", "3"),
        ("log10(1000)", "3"),
        ("log2(1024)", "10"),
        ("sin(pi / 2)", "1"),
        ("cos(0)", "1"),
        ("tan(0)", "0"),
        ("asin(1) * 2", "3.14159265358979"),
        ("acos(1)", "0"),
        ("atan(1) * 4", "3.14159265358979"),
        ("abs(-3.5)", "3.5"),
        ("round(2.567, 2)", "2.57"),
        ("round(2.5)", "2"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("factorial(10)", "3628800"),
        ("factorial(5.0)", "120"),
        ("tau / pi", "2"),
        ("2 \u00d7 3 \u00f7 4 \u2212 1", "0.5"),
        ("1_000 * 3", "3000"),
        ("2 ** 100", "1267650600228229401496703205376"),
        ("1e3", "1000"),
        ("1e20", "1e+20"),
        ("-0.0", "0"),
    ],
)
def test_valid_expressions(expression: str, expected: str) -> None:
    assert calculator(expression) == expected


def test_factorial_at_its_limit_is_exact() -> None:
    assert len(calculator("factorial(1000)")) == 2568


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "attribute access is not allowed"),
        ("().__class__", "attribute access is not allowed"),
        ("().__class__.__bases__[0].__subclasses__()", "attribute access is not allowed"),
        ("(1).real", "attribute access is not allowed"),
        ("pi[0]", "indexing is not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("x + 1", "unknown name 'x'"),
        ("'a' * 10", "strings are not allowed"),
        ("b'a'", "strings are not allowed"),
        ("f'{1}'", "strings are not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("[i for i in range(10)]", "comprehensions are not allowed"),
        ("[1, 2]", "lists are not allowed"),
        ("(1, 2)", "tuples are not allowed"),
        ("{1: 2}", "dicts are not allowed"),
        ("1 if 1 else 2", "conditional expressions are not allowed"),
        ("1 < 2", "comparisons are not allowed"),
        ("1 and 2", "and/or is not allowed"),
        ("(y := 2)", "assignment is not allowed"),
        ("1 << 100000", "the operator << is not allowed"),
        ("~1", "the operator ~ is not allowed"),
        ("not 1", "the operator not is not allowed"),
        ("True + 1", "True is not a number"),
        ("1j", "complex values are not allowed"),
        ("sqrt(x=4)", "takes no keyword arguments"),
        ("sqrt(1, 2)", r"sqrt\(\) takes 1 argument \(2 given\)"),
        ("min()", r"min\(\) takes at least 1 argument \(0 given\)"),
        ("9 ** 9 ** 9", "the result is too large"),
        ("2 ** 100000", "the result is too large"),
        ("10 ** 2000 * 10 ** 2000", "the result is too large"),
        ("1e308 * 10", "the result is too large"),
        ("1e999", "the result is too large"),
        ("exp(1000)", "the result is too large"),
        ("10 ** 3000 / 3", "the result is too large"),
        ("factorial(1001)", "limited to arguments up to 1000"),
        ("factorial(100000000)", "limited to arguments up to 1000"),
        ("factorial(-1)", "negative"),
        ("factorial(2.5)", "needs a whole number"),
        ("round(1.5, 10 ** 9)", "at most 100 digits"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0.0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("log(1, 1)", "division by zero"),
        ("sqrt(-1)", r"sqrt\(-1\) is not defined"),
        ("log(0)", r"log\(0\) is not defined"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("2 +", "invalid expression"),
        ("", "the expression is empty"),
        ("1 + " * 200 + "1", "longer than 500 characters"),
        ("-" * 100 + "1", "nested too deeply"),
        ("abs(" * 60 + "1" + ")" * 60, "nested too deeply"),
        ("(" * 210 + "1" + ")" * 210, "invalid expression: too many nested parentheses"),
        ("2(3)", "2 cannot be called; write \\* to multiply"),
        ("sqrt(4)(2)", "calling the result of a call is not allowed"),
    ],
)
def test_refused_expressions(expression: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        calculator(expression)
    assert time.perf_counter() - started < 0.5  # refused before any expensive work


def test_the_calculator_tool_reports_errors_to_the_model() -> None:
    box = Toolbox(builtin_tools())
    call = {
        "id": "1",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"expression": "__import__(\\"os\\")"}'},
    }
    result = box.run(call)
    assert result.error_kind == "failed"
    assert result.content.startswith("Error: calculator failed: ValueError: unknown function")
