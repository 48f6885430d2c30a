"""CSV for spreadsheets, safe from formula injection.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel and LibreOffice: a vote's question `=HYPERLINK(...)` or a browser's user agent in
the audit trail would run as one. As OWASP advises, a leading ' makes such a text cell
plain text; numbers are left alone, so they stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose every text cell goes through spreadsheet_cell."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([spreadsheet_cell(c) for c in cells])
