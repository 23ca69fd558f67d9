"""The one set of formatters of reports, figure axes and the terminal (``experiments.format``)."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.format import finite, format_hms, format_num, format_pct, format_prob, format_usd

MISSING_VALUES = [None, float("nan"), float("inf"), -np.inf, np.float64("nan"), "text", object()]
MISSING_IDS = ["None", "nan", "inf", "-inf", "np-nan", "text", "object"]


@pytest.mark.parametrize("value", MISSING_VALUES, ids=MISSING_IDS)
def test_every_formatter_writes_a_dash_for_a_missing_value(value: object) -> None:
    assert finite(value) is None
    for fmt in (format_usd, format_pct, format_prob, format_hms):
        assert fmt(value) == "-"
    assert format_usd(value, significant=3) == "-"


def test_finite_accepts_numbers_numpy_scalars_and_numeric_strings() -> None:
    assert finite(3) == 3.0 and finite(np.int64(4)) == 4.0 and finite(np.float32(0.5)) == 0.5
    assert finite("1.25") == 1.25
    assert finite(True) == 1.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0"),
        (950, "$950"),
        (999.4, "$999"),
        (1_000, "$1.00K"),
        (45_600, "$45.60K"),
        (1_234_567, "$1.23M"),
        (-2_500_000, "-$2.50M"),
        (3.2e9, "$3.20B"),
        (1.5e12, "$1,500.00B"),  # the table style stops at billions
        (np.float64(12_346.0), "$12.35K"),
    ],
)
def test_usd_table_style(value: float, text: str) -> None:
    assert format_usd(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0"),
        (9.5, "$9.5"),
        (99.94, "$99.9"),
        (950, "$950"),
        (1_000, "$1K"),
        (45_600, "$45.6K"),
        (1_234_567, "$1.23M"),
        (-2_500_000, "-$2.5M"),
        (3.2e9, "$3.2B"),
        (1.5e12, "$1.5T"),
    ],
)
def test_usd_axis_style(value: float, text: str) -> None:
    assert format_usd(value, significant=3) == text


def test_usd_significant_digits_are_a_parameter() -> None:
    assert format_usd(1_234_567, significant=2) == "$1.2M"
    assert format_usd(1_234_567, significant=5) == "$1.2346M"


def test_percent_and_probability() -> None:
    assert format_pct(-3.254) == "-3.25%"
    assert format_pct(0.1) == "+0.10%"
    assert format_pct(12.3456, digits=1) == "+12.3%"
    assert format_prob(0.125) == "12.5%"
    assert format_prob(1) == "100.0%"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (True, "True"),
        (1234567, "1,234,567"),
        (np.int64(42), "42"),
        (2.0, "2"),
        (1e15, "1e+15"),
        (0.123456, "0.1235"),
        (float("nan"), "-"),
        ("abc", "abc"),
    ],
)
def test_plain_numbers(value: object, text: str) -> None:
    assert format_num(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "00:00:00"),
        (59.6, "00:01:00"),
        (3725, "01:02:05"),
        (86_399, "23:59:59"),
        (86_400, "1d 00:00:00"),
        (3 * 86_400 + 4 * 3600 + 5, "3d 04:00:05"),
        (np.float64(90.0), "00:01:30"),
    ],
)
def test_hms(seconds: float, text: str) -> None:
    assert format_hms(seconds) == text
