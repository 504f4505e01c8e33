"""Money is kept in integer cents; amounts from the ERP use a comma as decimal separator."""

from decimal import ROUND_HALF_UP, Decimal

VAT_RATES = {"standard": 19, "food": 7, "books": 7, "zero": 0}


def to_cents(amount: str) -> int:
    """Parse an ERP amount like '1.234,50' (dot thousands, comma decimals) into cents."""
    clean = amount.strip().replace(".", "").replace(",", ".")
    return int((Decimal(clean) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_price(cents: int, currency: str = "€") -> str:
    """Format cents the way our shop shows prices: '1.234,56 €'."""
    euros, rest = divmod(abs(cents), 100)
    whole = f"{euros:,}".replace(",", ".")
    sign = "-" if cents < 0 else ""
    return f"{sign}{whole},{rest:02d} {currency}"


def apply_vat(net_cents: int, category: str) -> int:
    """Gross price in cents for a net price and a VAT category (rounded half up)."""
    rate = VAT_RATES[category]
    return int((Decimal(net_cents) * (100 + rate) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
