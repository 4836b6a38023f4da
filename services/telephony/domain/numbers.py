"""Phone number sanitisation for dial, as XiVO's xuc does it (a pure function).

Kept: digits, a leading `+` (which becomes the international prefix `00`), `*` and `#`.
Dropped: spaces, dots, dashes, slashes, parentheses, letters and anything else.
A `(0)` written after the country code (`+` or `00` numbers) is the national trunk prefix that international callers
leave out (`+33 (0)1 23 45 67 89`): it is dropped. A zero *not* in parentheses is kept, because
some countries (Italy: `+39 06 ...`) keep the leading zero after the country code.
"""

from __future__ import annotations

import re

from services.telephony.domain.errors import InvalidNumber

MAX_DIGITS = 40
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_DIALABLE = re.compile(r"[0-9*#]")


def sanitize(number: str) -> str:
    """The dialable form of `number`; InvalidNumber if nothing dialable is left."""
    text = number.strip()
    international = text.startswith("+")
    if international:
        text = text[1:]
    if international or text.startswith("00"):
        text = _TRUNK_ZERO.sub("", text)
    digits = "".join(_DIALABLE.findall(text))
    if not digits:
        raise InvalidNumber(f"{number[:MAX_DIGITS]!r} has no digit to dial")
    if len(digits) > MAX_DIGITS:
        raise InvalidNumber(f"a number has at most {MAX_DIGITS} digits")
    return f"00{digits}" if international else digits
