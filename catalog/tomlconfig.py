"""Read TOML config files into typed msgspec structs with errors that name file, field and value.

Shared by every package's config loader (this is the lowest layer, so all may import it). A config
struct states its own range rules in ``__post_init__`` (msgspec runs it on every decode, construction
and ``msgspec.structs.replace``) and raises :class:`FieldError` naming the field, the value and the
problem; :func:`describe_validation_error` adds the file and the field's path in it.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi


class FieldError(ValueError):
    """Raise from a config struct's ``__post_init__`` when a field holds an impossible value.

    Parameters
    ----------
    field : str
        The field's name, or a path below the struct (``"sessions.ASIA.start"``).
    value : object
        The offending value.
    problem : str
        What is wrong, e.g. ``"must be positive"``.
    """

    def __init__(self, field: str, value: object, problem: str) -> None:
        super().__init__(f"{field} = {value!r}: {problem}")
        self.field = field
        self.value = value
        self.problem = problem


def read_toml(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """Return the mapping in a TOML file, raising ``error`` naming the file when it cannot be read."""
    file = Path(path)
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{file}: config file not found") from exc
    except IsADirectoryError as exc:
        raise error(f"{file}: is a directory, not a config file") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{file}: not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file}: not valid TOML: {exc}") from exc


def describe_validation_error(
    origin: str,
    raw: dict[str, Any],
    error: str | BaseException,
    *,
    schema: Any = None,
    root: str = "",
) -> str:
    """Rewrite a msgspec validation error as ``<file>: <field path> = <value>: <problem>``.

    Parameters
    ----------
    origin : str
        The config file named in the message.
    raw : dict
        The mapping that failed validation (to look the offending value up).
    error : str or Exception
        The ``msgspec.ValidationError`` (or its text, e.g. ``Expected `int`, got `str` - at
        `$.run.seed```). A :class:`FieldError` raised by a struct's ``__post_init__`` (msgspec keeps
        it as the error's cause) gives the field, the value and the problem.
    schema : type, optional
        The struct ``raw`` was converted to; an invalid choice then lists the valid ones.
    root : str
        The path of ``raw`` inside the file (``"strategies[0].config"``), prefixed to the field.
    """
    text, _, location = str(error).partition(" - at `")
    location = location.rstrip("`")
    parts = _split_path(location.removeprefix("$"))
    cause = error.__cause__ if isinstance(error, BaseException) else None
    if isinstance(cause, FieldError):
        parts += _split_path(cause.field)
        value: Any = cause.value
        text = cause.problem
    else:
        missing = re.search(r"missing required field `([^`]+)`", text)
        unknown = re.search(r"unknown field `([^`]+)`", text)
        named = missing or unknown
        if named is not None:
            parts.append(named.group(1))
        value = _lookup(raw, parts)
        if text.startswith("Invalid enum value") and schema is not None:
            choices = _choices(schema, parts)
            if choices:
                text = f"{text} (expected one of {', '.join(repr(c) for c in choices)})"
        if unknown is not None and schema is not None:
            close = difflib.get_close_matches(unknown.group(1), _field_names(schema, parts[:-1]), n=1)
            if close:
                text = f"{text} (did you mean `{close[0]}`?)"
    field = "".join(p if p.startswith("[") else f".{p}" for p in parts).lstrip(".")
    if root:
        field = f"{root}.{field}" if field and not field.startswith("[") else f"{root}{field}"
    return f"{origin}: {field or '<root>'} = {value!r}: {text}"


def _split_path(path: str) -> list[str]:
    return [p for p in re.split(r"\.|(\[\d+\])", path) if p]


def _lookup(raw: Any, parts: list[str]) -> Any:
    value = raw
    for part in parts:
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return value


def _members(info: Any) -> list[Any]:
    return list(info.types) if isinstance(info, mi.UnionType) else [info]


def _types_at(schema: Any, parts: list[str]) -> list[Any]:
    """Return the msgspec type infos a field path of ``schema`` may hold."""
    current: list[Any] = [mi.type_info(schema)]
    for part in parts:
        following: list[Any] = []
        for info in (m for c in current for m in _members(c)):
            if isinstance(info, mi.StructType) and not part.startswith("["):
                following += [f.type for f in info.fields if f.encode_name == part]
            elif isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType):
                following.append(info.item_type)
            elif isinstance(info, mi.DictType) and not part.startswith("["):
                following.append(info.value_type)
        current = following
    return [m for c in current for m in _members(c)]


def _field_names(schema: Any, parts: list[str]) -> list[str]:
    """Return the field names of the struct at a path of ``schema``."""
    return [
        f.encode_name
        for info in _types_at(schema, parts)
        if isinstance(info, mi.StructType)
        for f in info.fields
    ]


def _choices(schema: Any, parts: list[str]) -> tuple[Any, ...]:
    """Return the values a Literal (or Enum) field at ``parts`` of ``schema`` accepts, or ()."""
    found: list[Any] = []
    for info in _types_at(schema, parts):
        if isinstance(info, mi.LiteralType):
            found += list(info.values)
        elif isinstance(info, mi.EnumType):
            found += [member.value for member in info.cls]
    return tuple(found)


# -- range rules for ``__post_init__`` -------------------------------------------------------------


def fail(field: str, value: object, problem: str) -> None:
    """Raise :class:`FieldError`."""
    raise FieldError(field, value, problem)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def positive(config: msgspec.Struct, *names: str) -> None:
    """Require each named field to be a finite number above 0."""
    for name in names:
        value = getattr(config, name)
        if not (_number(value) and value > 0):
            fail(name, value, "must be a finite number > 0")


def non_negative(config: msgspec.Struct, *names: str) -> None:
    """Require each named field to be a finite number at or above 0."""
    for name in names:
        value = getattr(config, name)
        if not (_number(value) and value >= 0):
            fail(name, value, "must be a finite number >= 0")


def at_least(config: msgspec.Struct, minimum: float, *names: str) -> None:
    """Require each named field to be a finite number at or above ``minimum``."""
    for name in names:
        value = getattr(config, name)
        if not (_number(value) and value >= minimum):
            fail(name, value, f"must be >= {minimum:g}")


def fraction(config: msgspec.Struct, *names: str) -> None:
    """Require each named field to be a fraction in (0, 1]."""
    for name in names:
        value = getattr(config, name)
        if not (_number(value) and 0 < value <= 1):
            fail(name, value, "must be a fraction in (0, 1]")


def probability(config: msgspec.Struct, *names: str) -> None:
    """Require each named field to be a probability in [0, 1]."""
    for name in names:
        value = getattr(config, name)
        if not (_number(value) and 0 <= value <= 1):
            fail(name, value, "must be a probability in [0, 1]")


def below(config: msgspec.Struct, low: str, high: str) -> None:
    """Require field ``low`` to be strictly below field ``high``."""
    low_value, high_value = getattr(config, low), getattr(config, high)
    if not low_value < high_value:
        fail(low, low_value, f"must be below {high} ({high_value!r})")
