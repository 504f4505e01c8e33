"""Run commands as an ordinary user, from a test session that runs as root.

The sandbox must hold for an unprivileged user too, and some of its failures only show there
(issue 12: a cgroup parent root created makes every other user's kernel start fail). When the
tests run as root, ``prepare()`` creates the user ``smallcode-test`` (``useradd``) if missing,
and ``run()`` runs a command as that user with ``runuser``: no capabilities, its own uid, gid
and home, a minimal environment.

WHY a private mount namespace: the user must be able to run this interpreter and read the
virtualenv and the repository. When an ancestor directory is closed to other users (pyenv
under ``/root``, mode 0700), ``run()`` starts the command in a private mount namespace
(``unshare --mount``) where that directory is an empty tmpfs holding only the needed entry,
bound back; nothing changes on the host, and the user sees the same paths.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

USER = "smallcode-test"
ROOT = Path(__file__).resolve().parents[1]


def prepare() -> str | None:
    """Make sure ``USER`` exists; None when ``run()`` can be used, else why not (a skip reason)."""
    if os.geteuid() != 0:
        return f"runs as root only (to create and become the user {USER}); this is uid {os.geteuid()}"
    if shutil.which("runuser") is None:
        return "runuser (util-linux) is not installed"
    if _view_script() and shutil.which("unshare") is None:
        return f"{sys.executable} lies in a directory other users cannot enter, and unshare is missing"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            return f"useradd is not installed, so the user {USER} cannot be created"
        proc = subprocess.run(
            [useradd, "--create-home", "--shell", "/usr/sbin/nologin", "--comment", "smallcode tests", USER],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return f"useradd {USER} failed: {proc.stderr.strip()}"
    probe = run([sys.executable, "-c", "import smallcode_jupyter.sandbox"], timeout=120)
    if probe.returncode != 0:
        return f"{USER} cannot import smallcode_jupyter from {sys.executable}: {probe.stderr.strip()[-300:]}"
    return None


def run(
    cmd: Sequence[str], *, timeout: float, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` as ``USER`` (see the module docstring); output captured as text."""
    account = pwd.getpwnam(USER)
    home = account.pw_dir if os.path.isdir(account.pw_dir) else tempfile.gettempdir()
    user_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": USER,
        "LOGNAME": USER,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONDONTWRITEBYTECODE": "1",  # the repository is not the user's to write
        **(env or {}),
    }
    as_user = ["runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in user_env.items())]
    script = _view_script()
    if script:
        full = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"]
        full += [*as_user, *cmd]
    else:
        full = [*as_user, *cmd]
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


def _needed() -> list[Path]:
    """What the user must reach: the repository, the virtualenv, the interpreter and its prefix."""
    paths = [ROOT, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable)]
    return [Path(os.path.realpath(p)) for p in paths]


def _closed_ancestor(path: Path) -> tuple[Path, Path] | None:
    """The first ancestor other users cannot enter, and its child on the way to ``path``."""
    parts = path.parts
    for i in range(1, len(parts)):
        directory = Path(*parts[:i])
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return directory, Path(*parts[: i + 1])
    return None


def _view_script() -> str:
    """Shell commands (run as root in a new mount namespace, then ``exec "$@"``) that make each
    closed ancestor an empty tmpfs containing only the needed entries, bound back in place."""
    closed: dict[Path, set[Path]] = {}
    for path in _needed():
        hit = _closed_ancestor(path)
        if hit is not None:
            closed.setdefault(hit[0], set()).add(hit[1])
    if not closed:
        return ""
    lines = ["set -e"]
    for n, (directory, entries) in enumerate(sorted(closed.items())):
        stages = []
        for m, entry in enumerate(sorted(entries)):
            stage, is_dir, quoted = f"stage_{n}_{m}", entry.is_dir(), shlex.quote(str(entry))
            stages.append((stage, is_dir, quoted))
            lines.append(f'{stage}=$(mktemp {"-d" if is_dir else ""}) && mount --bind {quoted} "${stage}"')
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m smallcode-view {shlex.quote(str(directory))}")
        for stage, is_dir, quoted in stages:
            lines.append(f"{'mkdir' if is_dir else 'touch'} {quoted}")
            lines.append(f'mount --move "${stage}" {quoted} && rm -d "${stage}"')
    lines.append('exec "$@"')
    return "\n".join(lines)
