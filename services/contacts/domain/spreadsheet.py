"""Cells a spreadsheet would run as a formula, made inert on export and restored on import.

A cell starting with = + - @, a tab or a carriage return is a formula (or a way into one) to
Excel and LibreOffice: export prefixes it with an apostrophe, which spreadsheets show as text.
So that export and import stay exact inverses, a cell that already looks neutralised (apostrophes
then one of those characters) gets one more apostrophe too, and import removes exactly one.
"""

from __future__ import annotations

import re

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_STARTS_SUSPECT = frozenset("'=+-@\t\r")  # a quick first-character test spares the regex most cells


def neutralize(cell: str) -> str:
    return "'" + cell if cell and cell[0] in _STARTS_SUSPECT and _FORMULA.match(cell) else cell


def unneutralize(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell[1:]) else cell
