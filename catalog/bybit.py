"""Read recorded Bybit V5 REST payloads (instruments-info, fee-rate, funding history)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.errors import CatalogConfigError, CatalogError


def read_bybit_list(path: str | Path, error: type[CatalogError] = CatalogConfigError) -> list[dict[str, Any]]:
    """Return ``result.list`` of a recorded Bybit V5 REST payload.

    Parameters
    ----------
    path : str or Path
        The JSON file.
    error : type of CatalogError, default CatalogConfigError
        The error to raise: a config error for instrument payloads, a source error for data payloads.

    Returns
    -------
    list of dict

    Raises
    ------
    CatalogError
        Of type ``error``, naming the file: missing, not JSON, no ``result.list`` or ``retCode`` not 0.
    """
    file = Path(path)
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{file}: Bybit payload file not found") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{file}: not valid JSON: {exc}") from exc
    try:
        rows = payload["result"]["list"]
    except (KeyError, TypeError) as exc:
        raise error(f"{file}: no result.list, not a Bybit V5 REST payload") from exc
    if payload.get("retCode") != 0:
        raise error(f"{file}: retCode={payload.get('retCode')!r}, not a successful response")
    if not isinstance(rows, list):
        raise error(f"{file}: result.list is not a list, not a Bybit V5 REST payload")
    return list(rows)
