// The side panel in a real browser: Debian Chromium driven by playwright-core (Playwright cannot
// download its own browser here). Run by tests/test_panel_ui.py, which starts JupyterLab and
// passes where it is through the environment:
//
//   SMALLCODE_LAB_URL    base URL of the running JupyterLab (no trailing slash)
//   SMALLCODE_TOKEN      its token
//   SMALLCODE_NOTEBOOK   the notebook to open (relative to the server's root dir)
//   SMALLCODE_MODEL      the model to pick in the panel (default smollm2-135m)
//   SMALLCODE_TASK       the task to submit
//   SMALLCODE_RUN_TESTS  "1" to keep "Run tests" on (default), "0" to turn it off
//   SMALLCODE_STEPS      what to do after the first task, comma-separated (default: all):
//                        model  run the notebook's `%smallcode model PATH` cell: the picker follows
//                        stop   a long task, stopped mid-generation: nothing inserted, panel idle
//                        fix    run the notebook's failing cell, "Fix this error", a result offered
//                        replace  Replace the fixed cell with that result, then Undo
//                        restart  restart the kernel: Load smallcode again, connected again
//   SMALLCODE_SHOT       where to save the screenshot of the panel with the finished run
//   SMALLCODE_SHOT_FIX   if set: where to save one of the fixed cell's run (live state unfolded)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//
// The notebook holds a cell `%smallcode model …` (for "model") and a cell with the marker
// `# smallcode-ui: fails` that raises when run (for "fix").
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
const steps = new Set((env.SMALLCODE_STEPS || 'model,stop,fix,replace,restart').split(',').filter(Boolean));
const RESULT_TIMEOUT = Number(env.SMALLCODE_RESULT_TIMEOUT || 150000);
const STOP_TASK =
  'Write a class Inventory with methods add(item, n), remove(item, n), count(item) and total(), ' +
  'a function parse_csv(text) that returns a list of dicts, and a function report(rows) that ' +
  'formats them as a table with aligned columns.';
const FAILS = '# smallcode-ui: fails';

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

const cells = page.locator('.jp-Notebook .jp-Cell');
const view = page.locator('.jp-smallcode-view');

/** The source of the cell at `i` as the editor shows it. */
const cellText = i => cells.nth(i).locator('.cm-content').innerText();

/** The index of the first cell whose source contains `marker`. */
async function cellIndex(marker) {
  const texts = await cells.locator('.cm-content').allInnerTexts();
  const i = texts.findIndex(t => t.includes(marker));
  if (i < 0) {
    throw new Error(`no cell contains ${JSON.stringify(marker)}`);
  }
  return i;
}

/** Click into cell `i` and run it with Ctrl+Enter (it stays the active cell). */
async function runCell(i) {
  await cells.nth(i).locator('.cm-content').click();
  await page.keyboard.press('Control+Enter');
  await page.waitForFunction(
    j => {
      const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[j];
      const prompt = cell && cell.querySelector('.jp-InputPrompt');
      return !!prompt && /\[\d+\]/.test(prompt.textContent || '');
    },
    i,
    { timeout: 60000 }
  );
}

/** Wait until the current run has finished; its result code ('' if none), or throw its error. */
async function waitForResult() {
  await page.waitForSelector('.jp-smallcode-view[data-state="done"], .jp-smallcode-view[data-state="error"]', {
    timeout: RESULT_TIMEOUT
  });
  if ((await view.getAttribute('data-state')) === 'error') {
    throw new Error(`the panel shows an error: ${await page.locator('.jp-smallcode-run-error').innerText()}`);
  }
  return (await page.locator('.jp-smallcode-code').getAttribute('data-code')) ?? '';
}

/** The panel is idle: no run going, the kernel not busy with a panel task, Run enabled. */
async function waitIdle() {
  await page.waitForSelector('.jp-smallcode-run-button:not([disabled])', { timeout: 60000 });
  await page.waitForFunction(
    () => !/busy:/.test(document.querySelector('.jp-smallcode-status')?.textContent || ''),
    null,
    { timeout: 60000 }
  );
}

async function setBox(selector, value) {
  await page.locator(selector).fill(value);
}

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
  out.pickerAtStart = await page.locator('.jp-smallcode-model').inputValue();
  out.statusAtStart = await page.locator('.jp-smallcode-status').innerText();

  step(`pick ${model}, submit the task`);
  await cells.first().click(); // the first cell is the active one: Insert below goes after it
  await page.locator('.jp-smallcode-model').selectOption(model);
  const box = page.locator('.jp-smallcode-runtests');
  if ((await box.isChecked()) !== runTests) {
    await box.click();
  }
  await page.locator('.jp-smallcode-task').fill(task);
  await page.locator('.jp-smallcode-task').press('Enter');

  step('wait for the result');
  out.code = await waitForResult();
  out.summary = await page.locator('.jp-smallcode-summary').innerText();
  out.stages = await page.locator('.jp-smallcode-stages > li').allInnerTexts();

  step('insert below');
  const before = await cells.count();
  await page.locator('.jp-smallcode-insert').click();
  await page.waitForFunction(n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n + 1, before);
  out.cells = before + 1;
  out.cell = await page.locator('.jp-Notebook .jp-Cell.jp-mod-active .cm-content').innerText();
  out.cellIndex = await cells.evaluateAll(els => els.findIndex(e => e.classList.contains('jp-mod-active')));

  step('screenshot');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: shot });
  await waitIdle();

  if (steps.has('model')) {
    step('%smallcode model PATH in a cell: the picker follows the kernel');
    await runCell(await cellIndex('%smallcode model'));
    await page.waitForFunction(
      () => /\(current\)/.test(document.querySelector('.jp-smallcode-model option:checked')?.textContent || '') &&
        (document.querySelector('.jp-smallcode-model')?.value || '').endsWith('.gguf'),
      null,
      { timeout: 60000 }
    );
    out.pickerAfterModelCell = await page.locator('.jp-smallcode-model').inputValue();
    out.statusAfterModelCell = await page.locator('.jp-smallcode-status').innerText();
  }

  if (steps.has('stop')) {
    step('a long task, stopped while it generates');
    const count = await cells.count();
    const sources = await cells.locator('.cm-content').allInnerTexts();
    await setBox('.jp-smallcode-candidates', '10');
    await setBox('.jp-smallcode-iters', '10');
    await page.locator('.jp-smallcode-task').fill(STOP_TASK);
    await page.locator('.jp-smallcode-run-button').click();
    await page.waitForSelector('.jp-smallcode-stage-generate', { timeout: RESULT_TIMEOUT });
    await page.locator('.jp-smallcode-stop-button').click();
    await page.waitForSelector('.jp-smallcode-view[data-state="done"], .jp-smallcode-view[data-state="error"]', {
      timeout: 60000
    });
    out.stopState = await view.getAttribute('data-state');
    out.stopStatus = await page.locator('.jp-smallcode-run-status').innerText();
    out.stopSummary = (await page.locator('.jp-smallcode-summary').count())
      ? await page.locator('.jp-smallcode-summary').innerText()
      : '';
    await waitIdle();
    out.stopIdle = true;
    out.stopCellsUnchanged =
      (await cells.count()) === count &&
      JSON.stringify(await cells.locator('.cm-content').allInnerTexts()) === JSON.stringify(sources);
    await setBox('.jp-smallcode-candidates', '1');
    await setBox('.jp-smallcode-iters', '0');
  }

  if (steps.has('fix')) {
    step('run the failing cell: the panel offers "Fix this error"');
    const i = await cellIndex(FAILS);
    out.fixOriginal = await cellText(i);
    await runCell(i);
    await page.waitForSelector('.jp-smallcode-fix-button:visible', { timeout: 30000 });
    out.fixTitle = await page.locator('.jp-smallcode-fix-button').getAttribute('title');

    step('fix this error');
    await page.locator('.jp-smallcode-fix-button').click();
    out.fixCode = await waitForResult();
    out.fixTask = await page.locator('.jp-smallcode-run-task').innerText();
    out.fixStages = await page.locator('.jp-smallcode-stages > li').allInnerTexts();
    out.fixSummary = await page.locator('.jp-smallcode-summary').innerText();
    out.fixOffered =
      (await page.locator('.jp-smallcode-insert:not([disabled])').count()) === 1 &&
      (await page.locator('.jp-smallcode-replace:not([disabled])').count()) === 1;
    out.fixDiff = await page.locator('.jp-smallcode-diff').count();
    await waitIdle();
    if (env.SMALLCODE_SHOT_FIX) {
      await page.locator('.jp-smallcode-description summary').first().click();
      await page.mouse.move(0, 0);
      await page.screenshot({ path: env.SMALLCODE_SHOT_FIX });
    }

    if (steps.has('replace')) {
      step('replace the fixed cell with the result');
      await page.locator('.jp-smallcode-replace').click();
      await page.waitForSelector('.jp-smallcode-undo', { timeout: 10000 });
      out.replaced = await cellText(i);
      step('undo the replace');
      await page.locator('.jp-smallcode-undo').click();
      await page.waitForSelector('.jp-smallcode-undo', { state: 'detached', timeout: 10000 });
      out.restored = await cellText(i);
    }
  }
  out.statusAtEnd = await page.locator('.jp-smallcode-status').innerText();
  out.pickerAtEnd = await page.locator('.jp-smallcode-model').inputValue();

  if (steps.has('restart')) {
    step('restart the kernel: the panel offers to load smallcode again, then reconnects');
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Kernel$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Restart Kernel…$/ }).click();
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    await page.waitForSelector('#smallcode-panel[data-connection="not-loaded"]', { timeout: 60000 });
    await page.locator('.jp-smallcode-load-button').click();
    await page.waitForSelector('#smallcode-panel[data-connection="connected"]', { timeout: 60000 });
    out.reconnected = true;
  }
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
