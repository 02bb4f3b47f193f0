"""Kubernetes resource quantities (`500m`, `512Mi`, `1e3`), parsed the way the API server does."""

from __future__ import annotations

import re
from decimal import Decimal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}
# The API server's grammar: signed decimal number, then a binary SI suffix, a
# decimal SI suffix or a decimal exponent. `512MB`, `1.5.0`, `Mi` do not match.
# fullmatch and [0-9]: no surrounding spaces, no trailing newline, no non-ASCII digits,
# so what is validated is exactly what is sent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)

_LIMIT = Decimal(2) ** 63

ALLOWED = "a Kubernetes quantity such as 500m, 1, 256Mi, 1Gi (suffixes n u m k M G T P E Ki Mi Gi Ti Pi Ei)"


def parse_quantity(text: str) -> Decimal:
    """Return the quantity's value in base units; ValueError if Kubernetes would reject it."""
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not {ALLOWED}")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        value = number * _BINARY[suffix]
    elif suffix in _DECIMAL:
        value = number * _DECIMAL[suffix]
    else:
        exponent = int(suffix[1:])
        if abs(exponent) > 30:
            raise ValueError(f"{text!r} is out of range")
        value = number * (Decimal(10) ** exponent)
    if abs(value) >= _LIMIT:  # the API server keeps quantities in 63 bits
        raise ValueError(f"{text!r} is out of range")
    return value
