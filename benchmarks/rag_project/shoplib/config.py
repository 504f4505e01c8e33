"""Settings files: one 'section.key = value' per line, '#' comments, numbers converted."""

from pathlib import Path


def read_settings(path: str | Path) -> dict:
    """Read a settings file into a nested dict: 'server.port = 8080' -> {'server': {'port': 8080}}."""
    out: dict = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        section, _, name = key.strip().partition(".")
        value = value.strip()
        out.setdefault(section, {})[name] = int(value) if value.isdigit() else value
    return out
