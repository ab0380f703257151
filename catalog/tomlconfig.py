"""Read TOML config files into typed msgspec structs with errors that name file, field and value.

Shared by every package's config loader (this is the lowest layer, so all may import it).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """Return the mapping in a TOML file, raising ``error`` naming the file when it cannot be read."""
    file = Path(path)
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{file}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file}: not valid TOML: {exc}") from exc


def describe_validation_error(origin: str, raw: dict[str, Any], message: str) -> str:
    """Rewrite a msgspec validation message as ``<file>: <field path> = <value>: <problem>``.

    Parameters
    ----------
    origin : str
        The config file named in the message.
    raw : dict
        The mapping that failed validation (to look the offending value up).
    message : str
        ``str(msgspec.ValidationError)``, e.g. ``Expected `int`, got `str` - at `$.run.seed```.
    """
    text, _, location = message.partition(" - at `")
    location = location.rstrip("`")
    parts = [p for p in re.split(r"\.|(\[\d+\])", location.removeprefix("$")) if p]
    missing = re.search(r"missing required field `([^`]+)`", text)
    unknown = re.search(r"unknown field `([^`]+)`", text)
    named = missing or unknown
    if named is not None:
        parts.append(named.group(1))
    field = "".join(p if p.startswith("[") else f".{p}" for p in parts).lstrip(".") or "<root>"
    value: Any = raw
    for part in parts:
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            value = "<missing>"
            break
    return f"{origin}: {field} = {value!r}: {text}"


def nested_error(message: str, path: tuple[str, ...]) -> str:
    """Return a msgspec error message for a table converted on its own as if at ``path`` of the file."""
    prefix = "".join(f".{part}" for part in path)
    if " - at `$" in message:
        return message.replace(" - at `$", f" - at `${prefix}", 1)
    return f"{message} - at `${prefix}`"
