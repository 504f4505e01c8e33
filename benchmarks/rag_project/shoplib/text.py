"""Text helpers: slugs for product URLs, SKU normalisation, display names."""

import re


def slugify(title: str, max_len: int = 30) -> str:
    """URL slug of a product title: lower case words joined by '~', at most max_len characters."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "~".join(words)[:max_len].rstrip("~")


def normalize_sku(sku: str) -> str:
    """Canonical SKU: upper case, no dashes or spaces, without the 'SKU' prefix, zero-padded to 8."""
    s = re.sub(r"[\s-]", "", sku).upper()
    if s.startswith("SKU"):
        s = s[3:]
    return s.zfill(8)


def display_name(user: dict) -> str:
    """How we address customers: 'LAST, First' (family name in capitals)."""
    return f"{user['last'].upper()}, {user['first'].title()}"
