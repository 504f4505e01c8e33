// The side panel in a real browser: Debian Chromium driven by playwright-core (Playwright cannot
// download its own browser here). Run by tests/test_panel_ui.py, which starts JupyterLab and
// passes where it is through the environment:
//
//   SMALLCODE_LAB_URL   base URL of the running JupyterLab (no trailing slash)
//   SMALLCODE_TOKEN     its token
//   SMALLCODE_NOTEBOOK  the notebook to open (relative to the server's root dir)
//   SMALLCODE_MODEL     the model to pick in the panel (default smollm2-135m)
//   SMALLCODE_TASK      the task to submit
//   SMALLCODE_RUN_TESTS "1" to keep "Run tests" on (default), "0" to turn it off
//   SMALLCODE_SHOT      where to save the screenshot of the panel with the finished run
//   CHROMIUM            the browser (default /usr/bin/chromium)
//
// Prints one JSON line: {ok, code, cell, summary, seconds, ...}; exits 1 on failure.
import { chromium } from 'playwright-core';

const env = process.env;
const base = env.SMALLCODE_LAB_URL;
const token = env.SMALLCODE_TOKEN;
const notebook = env.SMALLCODE_NOTEBOOK || 'panel-test.ipynb';
const model = env.SMALLCODE_MODEL || 'smollm2-135m';
const task = env.SMALLCODE_TASK || 'Write a function add(a, b) that returns the sum of a and b.';
const runTests = (env.SMALLCODE_RUN_TESTS || '1') === '1';
const shot = env.SMALLCODE_SHOT || 'panel.png';
const RESULT_TIMEOUT = Number(env.SMALLCODE_RESULT_TIMEOUT || 150000);

const t0 = Date.now();
const log = msg => console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const out = { ok: false, steps: [] };
const step = name => {
  out.steps.push(name);
  log(name);
};

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const consoleErrors = [];
page.on('console', m => {
  if (m.type() === 'error') {
    consoleErrors.push(m.text());
  }
});
page.on('pageerror', e => consoleErrors.push(String(e)));

try {
  step('open the notebook');
  await page.goto(`${base}/lab/tree/${notebook}?token=${token}`);
  await page.waitForSelector('.jp-Notebook .jp-Cell', { timeout: 60000 });

  step('open the panel with its shortcut');
  const panel = page.locator('#smallcode-panel');
  await page.locator('.jp-Notebook').first().click();
  await page.keyboard.press('Control+Shift+Y');
  try {
    await panel.waitFor({ state: 'visible', timeout: 5000 });
  } catch {
    step('shortcut did not open it: click the sidebar tab');
    await page.locator('.jp-SideBar [data-id="smallcode-panel"]').click();
    await panel.waitFor({ state: 'visible', timeout: 10000 });
  }

  step('load the extension from the panel');
  await page.locator('.jp-smallcode-load-button').click({ timeout: 60000 });
  await page.waitForSelector('#smallcode-panel[data-connection="connected"]', { timeout: 60000 });

  step(`pick ${model}, submit the task`);
  await page.locator('.jp-smallcode-model').selectOption(model);
  const box = page.locator('.jp-smallcode-runtests');
  if ((await box.isChecked()) !== runTests) {
    await box.click();
  }
  await page.locator('.jp-smallcode-task').fill(task);
  await page.locator('.jp-smallcode-task').press('Enter');

  step('wait for the result');
  const done = await Promise.race([
    page.waitForSelector('.jp-smallcode-code', { timeout: RESULT_TIMEOUT }).then(() => 'result'),
    page.waitForSelector('.jp-smallcode-run-error', { timeout: RESULT_TIMEOUT }).then(() => 'error')
  ]);
  if (done === 'error') {
    throw new Error(`the panel shows an error: ${await page.locator('.jp-smallcode-run-error').innerText()}`);
  }
  out.code = await page.locator('.jp-smallcode-code').getAttribute('data-code');
  out.summary = await page.locator('.jp-smallcode-summary').innerText();
  out.stages = await page.locator('.jp-smallcode-stages > li').allInnerTexts();

  step('insert below');
  const cells = page.locator('.jp-Notebook .jp-Cell');
  const before = await cells.count();
  await page.locator('.jp-smallcode-insert').click();
  await page.waitForFunction(n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n + 1, before);
  out.cells = before + 1;
  out.cell = await page.locator('.jp-Notebook .jp-Cell.jp-mod-active .cm-content').innerText();
  out.cellIndex = await cells.evaluateAll(els => els.findIndex(e => e.classList.contains('jp-mod-active')));

  step('screenshot');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: shot });

  step('restart the kernel: the panel offers to load smallcode again, then reconnects');
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Kernel$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Restart Kernel…$/ }).click();
  await page.locator('.jp-Dialog .jp-mod-accept').click();
  await page.waitForSelector('#smallcode-panel[data-connection="not-loaded"]', { timeout: 60000 });
  await page.locator('.jp-smallcode-load-button').click();
  await page.waitForSelector('#smallcode-panel[data-connection="connected"]', { timeout: 60000 });
  out.reconnected = true;
  out.ok = true;
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
  try {
    out.panel = await page.locator('#smallcode-panel').innerText({ timeout: 2000 });
    await page.screenshot({ path: shot.replace(/\.png$/, '-failed.png') });
  } catch {
    // the page is gone
  }
} finally {
  out.consoleErrors = consoleErrors.filter(t => /smallcode/i.test(t));
  out.seconds = (Date.now() - t0) / 1000;
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
