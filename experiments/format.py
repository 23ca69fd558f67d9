"""Text of numbers, money and simulated time, for the reports, the figures' axes and the terminal.

A leaf: it imports nothing else of the package, so every layer above may use it. Each formatter takes
anything (a float, an int, a numpy scalar, ``None``, NaN, a numeric string) and returns ``-`` for a value
that is missing or not a finite number; none of them raises.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"
"""The text of a missing or non-finite value."""

_USD_UNITS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))


def finite(value: Any) -> float | None:
    """A value as a finite float, or None.

    Args:
        value: anything; numbers and numeric strings convert.

    Returns:
        ``float(value)`` when that works and is finite, else None.
    """
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def format_usd(value: Any, *, significant: int | None = None) -> str:
    """Compact dollars in one of two styles.

    The table style (default) keeps two decimals after the unit and stops at billions:
    ``$1.23M``, ``$45.60K``, ``$1,500.00B``, ``-$950``. The axis style (``significant=n``) keeps ``n``
    significant digits and goes up to trillions: ``$1.23M``, ``$45.6K``, ``$1.5T``, ``$950``, ``$9.5``
    (amounts of 100 to 999 are written whole).

    Args:
        value: an amount in USD.
        significant: significant digits (the axis style); None: the table style.

    Returns:
        The text (``-`` when missing).
    """
    f = finite(value)
    if f is None:
        return MISSING
    sign = "-" if f < 0 else ""
    v = abs(f)
    if significant is None:
        for unit, div in _USD_UNITS[1:]:
            if v >= div:
                return f"{sign}${v / div:,.2f}{unit}"
        return f"{sign}${v:,.0f}"
    for unit, div in _USD_UNITS:
        if v >= div:
            return f"{sign}${v / div:.{significant}g}{unit}"
    return f"{sign}${v:.{significant}g}" if v < 100 else f"{sign}${v:.0f}"


def format_pct(value: Any, digits: int = 2) -> str:
    """A number already in percent, signed: ``-3.25%``, ``+0.10%``.

    Args:
        value: percent (-3.25 means -3.25%).
        digits: decimals.

    Returns:
        The text (``-`` when missing).
    """
    f = finite(value)
    return MISSING if f is None else f"{f:+.{digits}f}%"


def format_prob(value: Any) -> str:
    """A probability as a percentage without sign and one decimal: ``12.5%``.

    Args:
        value: a fraction in [0, 1].

    Returns:
        The text (``-`` when missing).
    """
    f = finite(value)
    return MISSING if f is None else f"{f * 100:.1f}%"


def format_num(value: Any) -> str:
    """A plain number: whole numbers with thousands separators, others with 4 significant digits.

    Args:
        value: the number; booleans print as ``True``/``False``, a non-numeric value as its ``str``.

    Returns:
        The text (``-`` for None or a non-finite float).
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    f = finite(value)
    if f is None:
        return str(value) if not isinstance(value, float) else MISSING
    if f == int(f) and abs(f) < 1e15:
        return f"{int(f):,}"
    return f"{f:.4g}"


def format_hms(seconds: Any) -> str:
    """A duration as ``[Nd ]HH:MM:SS``, rounded to the second: ``00:12:05``, ``3d 04:00:00``.

    Args:
        seconds: the duration in seconds (simulated seconds in reports and the progress bar).

    Returns:
        The text (``-`` when missing).
    """
    f = finite(seconds)
    if f is None:
        return MISSING
    s = round(f)
    days, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{days}d {h:02d}:{m:02d}:{s:02d}" if days else f"{h:02d}:{m:02d}:{s:02d}"
