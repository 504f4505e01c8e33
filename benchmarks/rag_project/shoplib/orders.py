"""Order exports: 'id;sku;qty;price' lines, price in ERP format ('12,50')."""

from dataclasses import dataclass
from pathlib import Path

from .money import to_cents

BATCH_SIZE = 3


@dataclass
class Order:
    id: str
    sku: str
    qty: int
    cents: int


def load_orders(path: str | Path) -> list[Order]:
    """Read an order export (a header line, then 'id;sku;qty;price' lines) into Orders."""
    lines = Path(path).read_text().splitlines()[1:]
    out = []
    for line in lines:
        if line.strip():
            oid, sku, qty, price = line.split(";")
            out.append(Order(oid, sku, int(qty), to_cents(price)))
    return out


def in_batches(items: list, size: int = BATCH_SIZE) -> list[list]:
    """Split items into lists of at most `size` (our carriers take 3 parcels per pickup)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def cache_key(*parts: object) -> str:
    """Key for the shared cache: 'shop::' then the parts joined by '::'."""
    return "shop::" + "::".join(str(p) for p in parts)
