"""Variables attached to a call (CTI `setData`, `dialFromMobile`): what the PBX may be given.

They become Asterisk channel variables (an AMI `Setvar` or an Originate's `Variable:` header) and
travel in the `userData` of every later phone event of the call, to every socket and to the event
URL. Hence the bounds: a key is a plain variable name (a dialplan reads it as `${KEY}`), a value is
one line of printable text, and a call carries few of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from services.telephony.domain.errors import InvalidCallData

MAX_VARIABLES = 32
MAX_KEY = 64
MAX_VALUE = 512
_KEY = re.compile(r"[A-Za-z0-9_]+")
# Control characters (C0, DEL, C1) would break an AMI frame or a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def checked_call_data(variables: Mapping[str, str], *, required: bool = True) -> dict[str, str]:
    """The variables as given, or InvalidCallData naming the first rule broken. `required`: at
    least one variable (attaching nothing is a mistake of the caller, not a no-op)."""
    if required and not variables:
        raise InvalidCallData("Give at least one variable")
    if len(variables) > MAX_VARIABLES:
        raise InvalidCallData(f"At most {MAX_VARIABLES} variables, got {len(variables)}")
    for key, value in variables.items():
        if not _KEY.fullmatch(key) or len(key) > MAX_KEY:
            raise InvalidCallData(f"A variable name is 1 to {MAX_KEY} letters, digits or '_', got {key[:MAX_KEY]!r}")
        if len(value) > MAX_VALUE:
            raise InvalidCallData(f"The value of {key} is longer than {MAX_VALUE} characters")
        if _CONTROL.search(value):
            raise InvalidCallData(f"The value of {key} contains a control character")
    return dict(variables)
