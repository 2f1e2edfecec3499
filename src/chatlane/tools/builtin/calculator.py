"""The ``calculator`` tool: arithmetic a model cannot be trusted to do in its head.

The expression is parsed with :mod:`ast` and walked by a small evaluator that knows numbers,
the arithmetic operators, a list of math functions and three constants. Nothing is ever
passed to ``eval``: names, attributes, strings, calls of anything else, lambdas and
comprehensions are refused by what they are, so ``__import__('os')`` or ``().__class__``
is just "not allowed".

Resource abuse is bounded too: the expression length, its nesting depth, the size of integer
results (``9**9**9`` is refused before it is computed), factorial's argument and round's
digits. Results: integers in full; floats to 15 significant digits, which drops binary noise
(``0.1 + 0.2`` gives ``0.3``) and shows integral floats without ``.0`` (``sqrt(16)`` gives
``4``).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

__all__ = ["calculator", "evaluate", "format_number"]

Number = int | float

MAX_LENGTH = 500
MAX_DEPTH = 50
MAX_INT_BITS = 10_000  # about 3,000 digits: room for factorial(1000), not for 9**9**9
MAX_FACTORIAL = 1000
MAX_ROUND_DIGITS = 100

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
# What a refused node is, in words for the model.
_REFUSED = {
    ast.Attribute: "attribute access is",
    ast.Subscript: "indexing is",
    ast.Lambda: "lambda is",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.Compare: "comparisons are",
    ast.BoolOp: "and/or is",
    ast.IfExp: "conditional expressions are",
    ast.NamedExpr: "assignment is",
    ast.JoinedStr: "strings are",
    ast.List: "lists are",
    ast.Tuple: "tuples are",
    ast.Set: "sets are",
    ast.Dict: "dicts are",
    ast.Starred: "unpacking is",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.Call: "calling the result of a call is",
}
# Calculator spellings a model may use, rewritten to Python's.
_SPELLINGS = {"^": "**", "\u00d7": "*", "\u00f7": "/", "\u2212": "-"}  # ^, times, divide, minus


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly and return the result.

    Supports numbers, + - * / // % and ** (or ^) for powers, parentheses, the functions
    sqrt, cbrt, exp, log (natural, or log(x, base)), log10, log2, sin, cos, tan, asin, acos,
    atan (radians), abs, round (round(x, digits)), floor, ceil, min, max, factorial, and the
    constants pi, e and tau.

    Args:
        expression: The expression, for example "(2 + 3) * 4 ** 2" or "sqrt(2) * sin(pi / 4)".
    """
    return format_number(evaluate(expression))


def evaluate(expression: str) -> Number:
    """The value of ``expression``. Raises ``ValueError`` saying what is wrong or refused."""
    if len(expression) > MAX_LENGTH:
        raise ValueError(f"the expression is longer than {MAX_LENGTH} characters")
    text = expression.strip()
    for spelling, python in _SPELLINGS.items():
        text = text.replace(spelling, python)
    if not text:
        raise ValueError("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"invalid expression: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError("the expression is nested too deeply") from None
    return _evaluate(tree.body, 0)


def format_number(value: Number) -> str:
    """Integers in full; floats to 15 significant digits (no binary noise, no ``.0``)."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.15g}"
    return "0" if text == "-0" else text


def _evaluate(node: ast.expr, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise ValueError("the expression is nested too deeply")
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ValueError(f"unknown name {node.id!r}; the known constants are pi, e and tau")
    if isinstance(node, ast.UnaryOp):
        unary = _UNARY.get(type(node.op))
        if unary is None:
            raise ValueError(f"the operator {_symbol(node.op)} is not allowed")
        return unary(_evaluate(node.operand, depth + 1))
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, depth + 1)
        right = _evaluate(node.right, depth + 1)
        return _checked(_binary(node.op, left, right))
    if isinstance(node, ast.Call):
        return _checked(_call(node, depth))
    raise _refused(node)


def _refused(node: ast.expr) -> ValueError:
    what = _REFUSED.get(type(node), f"{type(node).__name__} is")
    return ValueError(f"{what} not allowed in a calculator expression")


def _constant(value: object) -> Number:
    if isinstance(value, bool):
        raise ValueError(f"{value} is not a number")
    if isinstance(value, int | float):
        return _checked(value)
    if isinstance(value, str | bytes):
        raise ValueError("strings are not allowed in a calculator expression")
    raise ValueError(f"{type(value).__name__} values are not allowed in a calculator expression")


def _binary(op: ast.operator, left: Number, right: Number) -> Number:
    if isinstance(op, ast.Pow):
        return _power(left, right)
    function = _BINARY.get(type(op))
    if function is None:
        raise ValueError(f"the operator {_symbol(op)} is not allowed")
    if isinstance(op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
        raise ValueError("division by zero")
    try:
        return function(left, right)
    except OverflowError:
        raise ValueError("the result is too large") from None


def _power(base: Number, exponent: Number) -> Number:
    if _too_large_power(base, exponent):
        raise ValueError("the result is too large")
    try:
        result = base**exponent
    except ZeroDivisionError:
        raise ValueError("division by zero (0 to a negative power)") from None
    except OverflowError:
        raise ValueError("the result is too large") from None
    if isinstance(result, complex):
        raise ValueError(
            "the result is not a real number (a negative number to a fractional power)"
        )
    return result


def _too_large_power(base: Number, exponent: Number) -> bool:
    """Whether an integer power would exceed the size limit, found before computing it.

    ``9**9**9`` would otherwise run for hours; floats overflow quickly by themselves.
    """
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return False
    # 2**(bits - 1) <= |base|, so the result has at least (bits - 1) * exponent bits.
    return (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ValueError("the result is too large")
    if isinstance(value, float) and math.isinf(value):
        raise ValueError("the result is too large")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("the result is not a number")
    return value


def _call(node: ast.Call, depth: int) -> Number:
    if isinstance(node.func, ast.Constant):
        raise ValueError(f"{node.func.value!r} cannot be called; write * to multiply")
    if not isinstance(node.func, ast.Name):
        raise _refused(node.func)
    name = node.func.id
    function = _FUNCTIONS.get(name)
    if function is None:
        known = ", ".join(sorted(_FUNCTIONS))
        raise ValueError(f"unknown function {name!r}; the known functions are {known}")
    if node.keywords:
        raise ValueError(f"{name}() takes no keyword arguments")
    arguments = [_evaluate(argument, depth + 1) for argument in node.args]
    try:
        return function(name, arguments)
    except OverflowError:
        raise ValueError("the result is too large") from None
    except ZeroDivisionError:
        raise ValueError("division by zero") from None


def _count(name: str, arguments: list[Number], low: int, high: int | None) -> None:
    if low <= len(arguments) and (high is None or len(arguments) <= high):
        return
    wanted = f"at least {low}" if high is None else str(low) if low == high else f"{low} or {high}"
    plural = "" if wanted.endswith("1") else "s"
    raise ValueError(f"{name}() takes {wanted} argument{plural} ({len(arguments)} given)")


def _math(function: Callable[[Number], Number]) -> Callable[[str, list[Number]], Number]:
    def call(name: str, arguments: list[Number]) -> Number:
        _count(name, arguments, 1, 1)
        try:
            return function(arguments[0])
        except ValueError:
            raise ValueError(f"{name}({format_number(arguments[0])}) is not defined") from None

    return call


def _log(name: str, arguments: list[Number]) -> Number:
    _count(name, arguments, 1, 2)
    try:
        return math.log(*arguments)
    except ValueError:
        shown = ", ".join(format_number(argument) for argument in arguments)
        raise ValueError(f"log({shown}) is not defined") from None


def _whole(name: str, value: Number) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name}() needs a whole number, not {format_number(value)}")
        return int(value)
    return value


def _factorial(name: str, arguments: list[Number]) -> Number:
    _count(name, arguments, 1, 1)
    value = _whole(name, arguments[0])
    if value < 0:
        raise ValueError("factorial() is not defined for negative numbers")
    if value > MAX_FACTORIAL:
        raise ValueError(f"factorial() is limited to arguments up to {MAX_FACTORIAL}")
    return math.factorial(value)


def _round(name: str, arguments: list[Number]) -> Number:
    _count(name, arguments, 1, 2)
    if len(arguments) == 1:
        return round(arguments[0])
    digits = _whole(name, arguments[1])
    if abs(digits) > MAX_ROUND_DIGITS:
        raise ValueError(f"round() takes at most {MAX_ROUND_DIGITS} digits")
    return round(arguments[0], digits)


def _extreme(function: Callable[..., Number]) -> Callable[[str, list[Number]], Number]:
    def call(name: str, arguments: list[Number]) -> Number:
        _count(name, arguments, 1, None)
        return function(arguments)

    return call


_FUNCTIONS: dict[str, Callable[[str, list[Number]], Number]] = {
    "sqrt": _math(math.sqrt),
    "cbrt": _math(math.cbrt),
    "exp": _math(math.exp),
    "log": _log,
    "log10": _math(math.log10),
    "log2": _math(math.log2),
    "sin": _math(math.sin),
    "cos": _math(math.cos),
    "tan": _math(math.tan),
    "asin": _math(math.asin),
    "acos": _math(math.acos),
    "atan": _math(math.atan),
    "abs": _math(abs),
    "round": _round,
    "floor": _math(math.floor),
    "ceil": _math(math.ceil),
    "min": _extreme(min),
    "max": _extreme(max),
    "factorial": _factorial,
}


# The refused operators, as the model wrote them.
_SYMBOLS: dict[type[ast.operator | ast.unaryop], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}


def _symbol(op: ast.operator | ast.unaryop) -> str:
    return _SYMBOLS.get(type(op), type(op).__name__)
