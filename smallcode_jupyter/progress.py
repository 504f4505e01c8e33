"""Progress bars on stderr for long work (model assembly, sha256, embedding), shared by every front door."""

from __future__ import annotations

import sys
from typing import IO, Any


class ProgressBar:
    """A tqdm bar, created only once there is long work to show; call it with (done, total).

    ``unit="B"`` counts bytes (scaled to kB/MB), ``unit="chunk"`` counts embedded chunks.
    """

    def __init__(self, desc: str, unit: str = "B", out: IO[str] | None = None) -> None:
        self.desc, self.unit, self.out = desc, unit, out
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, unit_scale=self.unit == "B",
                            file=self.out or sys.stderr)  # fmt: skip
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
