"""Where our warehouses are, and distances between them."""

import math

WAREHOUSES = {
    "berlin": (52.52, 13.405),
    "paris": (48.857, 2.352),
    "madrid": (40.417, -3.704),
    "rome": (41.893, 12.483),
    "oslo": (59.914, 10.752),
}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
