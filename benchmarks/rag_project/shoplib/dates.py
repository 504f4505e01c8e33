"""Dates as the back office writes them, and our fiscal calendar (the year starts on 1 April)."""

import datetime as dt


def parse_day(text: str) -> dt.date:
    """Parse '15.05.2024' (day.month.year) into a date."""
    day, month, year = (int(p) for p in text.strip().split("."))
    return dt.date(year, month, day)


def fiscal_quarter(day: dt.date) -> str:
    """Our fiscal quarter label: the fiscal year starts on 1 April, e.g. 2024-05-15 -> 'FY2024-Q1'."""
    year = day.year if day.month >= 4 else day.year - 1
    quarter = ((day.month - 4) % 12) // 3 + 1
    return f"FY{year}-Q{quarter}"
