/**
 * The side panel: a task box, options, the live view of a run, its result and the history.
 *
 * It follows the active notebook: for its kernel it asks (with a silent user expression) whether
 * `%load_ext smallcode` ran, offers to run it when not, then opens the `smallcode` comm and
 * drives the agent loop in that kernel. Nothing is written into the notebook without a click.
 */
import { Clipboard, ISessionContext } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { Kernel, KernelMessage as KM } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  buildRunMessage,
  changedNote,
  COMM_TARGET,
  countPlaceholder,
  fixTarget,
  IDefaults,
  IFixTarget,
  IModelInfo,
  IModelOption,
  IRunView,
  KernelMessage,
  lineDiff,
  LOADED_EXPRESSION,
  modelForRun,
  modelOptions,
  newRun,
  parseCount,
  parseKernelMessage,
  reduceRun,
  selectedModel,
  shortModel
} from './protocol';

type Connection =
  | 'no-notebook'
  | 'no-kernel'
  | 'probing'
  | 'not-loaded'
  | 'loading-ext'
  | 'connecting'
  | 'connected'
  | 'unsupported';

interface IHistoryItem {
  task: string;
  summary: string;
  code: string;
}

/** A tiny DOM builder. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') {
      el.className = v;
    } else {
      el.setAttribute(k, v);
    }
  }
  for (const c of children) {
    el.append(c);
  }
  return el;
}

export class SmallcodePanel extends Widget {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly languages: IEditorLanguageRegistry | null
  ) {
    super();
    this.id = 'smallcode-panel';
    this.addClass('jp-smallcode-panel');
    this.title.caption = 'smallcode: a small local model writes tested code';
    this._build();
    tracker.currentChanged.connect(() => this._follow(), this);
    tracker.activeCellChanged.connect(() => this._renderFixButton(), this);
    NotebookActions.executed.connect(this._onExecuted, this);
    this._follow();
  }

  /** Focus the task box (the keyboard shortcut opens the panel, then calls this). */
  focusTask(): void {
    this._task.focus();
  }

  /** "Fix this error": send the failing cell (the active one, else the last that raised) and
   * its error to the kernel, which repairs it like any task (`Session.fix_request`). */
  fixActiveCell(): void {
    this._fix();
  }

  /** Is there a cell with an error that "Fix this error" would repair? */
  canFix(): boolean {
    return this._fixTarget() !== null;
  }

  dispose(): void {
    NotebookActions.executed.disconnect(this._onExecuted, this);
    this._closeComm();
    super.dispose();
  }

  // -- layout ------------------------------------------------------------------------------------
  private _build(): void {
    const node = this.node;
    this._status = h('div', { class: 'jp-smallcode-status' });
    this._connect = h('div', { class: 'jp-smallcode-connect' });
    this._task = h('textarea', {
      class: 'jp-smallcode-task',
      rows: '4',
      placeholder:
        'Describe the code to write (Enter runs, Shift+Enter for a new line)'
    });
    this._task.addEventListener('keydown', e => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this._submit();
      }
    });
    this._model = h('select', {
      class: 'jp-smallcode-model',
      title: 'Model (the kernel’s current one, and the presets with their state)'
    });
    // Only an explicit pick switches the kernel's model; untouched, the picker follows it.
    this._model.addEventListener('change', () => {
      this._picked = this._model.value;
    });
    this._maxIters = h('input', {
      class: 'jp-smallcode-iters',
      type: 'number',
      min: '0',
      max: '10',
      placeholder: 'preset',
      title: 'Repair rounds (empty: the kernel’s %config, else the model preset)'
    });
    this._candidates = h('input', {
      class: 'jp-smallcode-candidates',
      type: 'number',
      min: '1',
      max: '10',
      placeholder: 'preset',
      title: 'Candidates per task (empty: the kernel’s %config, else the model preset)'
    });
    this._runTests = h('input', { type: 'checkbox', class: 'jp-smallcode-runtests' });
    this._runTests.checked = true;
    this._runTests.addEventListener('change', () => {
      this._runTestsTouched = true;
    });
    this._changeCell = h('input', { type: 'checkbox', class: 'jp-smallcode-change' });
    this._runButton = h('button', { class: 'jp-smallcode-run-button jp-mod-styled jp-mod-accept' }, 'Run');
    this._runButton.addEventListener('click', () => this._submit());
    this._stopButton = h('button', { class: 'jp-smallcode-stop-button jp-mod-styled jp-mod-warn' }, 'Stop');
    this._stopButton.addEventListener('click', () => this._stop());
    this._fixButton = h('button', { class: 'jp-smallcode-fix-button jp-mod-styled' }, 'Fix this error');
    this._fixButton.addEventListener('click', () => this.fixActiveCell());

    const options = h(
      'div',
      { class: 'jp-smallcode-options' },
      h('label', {}, 'Model ', this._model),
      h('label', {}, 'Max iterations ', this._maxIters),
      h('label', {}, 'Candidates ', this._candidates),
      h('label', {}, this._runTests, ' Run tests'),
      h('label', { title: 'Send the active cell: the task changes it, and the result shows a diff' }, this._changeCell, ' Change the active cell')
    );
    this._form = h(
      'div',
      { class: 'jp-smallcode-form' },
      this._task,
      options,
      h('div', { class: 'jp-smallcode-buttons' }, this._runButton, this._stopButton, this._fixButton)
    );
    this._error = h('div', { class: 'jp-smallcode-error', role: 'alert' });
    this._view = h('div', { class: 'jp-smallcode-view' });
    this._history = h('div', { class: 'jp-smallcode-history' });
    node.append(
      h('div', { class: 'jp-smallcode-header' }, h('span', { class: 'jp-smallcode-title' }, 'smallcode'), this._status),
      this._connect,
      this._form,
      this._error,
      this._view,
      this._history
    );
    this._render();
  }

  // -- following the active notebook and its kernel ----------------------------------------------
  private _follow(): void {
    const nb = this.tracker.currentWidget;
    if (nb === this._nb) {
      return;
    }
    if (this._nb) {
      this._nb.sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
      this._nb.sessionContext.statusChanged.disconnect(this._onKernelStatus, this);
    }
    this._nb = nb;
    if (nb) {
      nb.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
      nb.sessionContext.statusChanged.connect(this._onKernelStatus, this);
    }
    void this._probe();
  }

  private _onKernelChanged(): void {
    void this._probe();
  }

  private _onKernelStatus(_ctx: ISessionContext, status: Kernel.Status): void {
    this._kernelStatus = status;
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._closeComm();
      this._needsProbe = true;
      this._setConnection('no-kernel', `kernel ${status}`);
    } else if (status === 'idle' && this._needsProbe) {
      this._needsProbe = false;
      void this._probe();
    } else {
      this._renderStatus();
    }
  }

  /** Is smallcode loaded in the active notebook's kernel? Open the comm if so. */
  private async _probe(): Promise<void> {
    const gen = ++this._gen;
    this._closeComm();
    const nb = this._nb;
    if (!nb) {
      this._setConnection('no-notebook');
      return;
    }
    this._setConnection('probing');
    try {
      await nb.sessionContext.ready;
      const kernel = nb.sessionContext.session?.kernel;
      if (gen !== this._gen) {
        return;
      }
      if (!kernel) {
        this._setConnection('no-kernel');
        return;
      }
      const loaded = await this._isLoaded(kernel);
      if (gen !== this._gen) {
        return;
      }
      if (loaded === null) {
        this._setConnection('unsupported', 'this kernel does not run IPython');
      } else if (loaded) {
        this._openComm(kernel, gen);
      } else {
        this._setConnection('not-loaded');
      }
    } catch (e) {
      if (gen === this._gen) {
        this._setConnection('no-kernel', String(e));
      }
    }
  }

  private async _isLoaded(kernel: Kernel.IKernelConnection): Promise<boolean | null> {
    const future = kernel.requestExecute({
      code: '',
      silent: true,
      store_history: false,
      user_expressions: { smallcode: LOADED_EXPRESSION }
    });
    const reply = (await future.done) as KM.IExecuteReplyMsg;
    const content = reply.content as any;
    const expr = content.user_expressions?.smallcode;
    if (!expr || expr.status !== 'ok') {
      return null;
    }
    return expr.data?.['text/plain'] === 'True';
  }

  /** One click: `%load_ext smallcode` silently in the notebook's kernel, then connect. */
  private async _loadExtension(): Promise<void> {
    const kernel = this._nb?.sessionContext.session?.kernel;
    if (!kernel) {
      return;
    }
    this._setConnection('loading-ext');
    const future = kernel.requestExecute({
      code: '%load_ext smallcode',
      silent: true,
      store_history: false
    });
    let failure = '';
    future.onIOPub = msg => {
      if (msg.header.msg_type === 'error') {
        const c = msg.content as any;
        failure = `${c.ename}: ${c.evalue}`;
      }
    };
    const reply = (await future.done) as KM.IExecuteReplyMsg;
    const c = reply.content as any;
    if (c.status !== 'ok') {
      failure = failure || `${c.ename}: ${c.evalue}`;
    }
    if (failure) {
      this._setConnection('not-loaded');
      this._showError(`%load_ext smallcode failed: ${failure}`);
      return;
    }
    await this._probe();
  }

  private _openComm(kernel: Kernel.IKernelConnection, gen: number): void {
    this._setConnection('connecting');
    const comm = kernel.createComm(COMM_TARGET);
    this._comm = comm;
    comm.onMsg = msg => {
      if (this._comm !== comm) {
        return;
      }
      const parsed = parseKernelMessage(msg.content.data);
      if (parsed) {
        this._onMessage(parsed);
      }
    };
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
        if (gen === this._gen) {
          this._setConnection('not-loaded', 'the kernel closed the connection');
        }
      }
    };
    comm.open({});
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone already
      }
    }
    if (this._run && !this._run.finished) {
      this._run = { ...this._run, finished: true, error: 'the kernel connection was lost', status: 'failed' };
    }
  }

  private _setConnection(conn: Connection, detail = ''): void {
    this._conn = conn;
    this._connDetail = detail;
    this._render();
  }

  // -- messages ----------------------------------------------------------------------------------
  private _onMessage(msg: KernelMessage): void {
    switch (msg.type) {
      case 'hello':
        this._setModels(msg.models, msg.model, msg.defaults);
        this._kernelBusy = msg.busy;
        this._setConnection('connected');
        return;
      case 'models':
        this._setModels(msg.models, msg.model, msg.defaults);
        this._render();
        return;
      case 'status':
        if (msg.state === 'idle') {
          this._kernelBusy = null;
          this._requestModels();
        } else {
          this._kernelBusy = msg.id;
          this._modelState = msg.message;
        }
        break;
      case 'error':
        if (!this._run || msg.id !== this._run.id) {
          this._showError(msg.message);
        }
        break;
    }
    if (this._run) {
      const before = this._run;
      this._run = reduceRun(this._run, msg);
      if (!before.finished && this._run.finished) {
        this._finishRun(this._run);
      }
    }
    this._scheduleRender();
  }

  private _setModels(models: IModelInfo[], current: string, defaults?: IDefaults): void {
    this._models = models;
    this._currentModel = current;
    this._defaults = defaults ?? this._defaults;
    const options = modelOptions(models, current);
    if (this._picked !== null && options.some(o => o.current && o.value === this._picked)) {
      this._picked = null; // the pick is the kernel's model now: follow the kernel again
    }
  }

  /** A cell ran in the followed notebook: remember a failure (for Fix), refresh the models
   * (a `%smallcode model` cell switches the kernel's model) and the kernel's defaults. */
  private _onExecuted(
    _sender: unknown,
    args: { notebook: unknown; cell: { model: { id: string } }; success: boolean }
  ): void {
    if (!this._nb || args.notebook !== this._nb.content) {
      return;
    }
    if (!args.success) {
      this._lastFailed = args.cell.model.id;
    }
    if (this._conn === 'connected') {
      this._requestModels();
    }
    this._renderFixButton();
  }

  private _requestModels(): void {
    try {
      this._comm?.send({ type: 'models' });
    } catch {
      // the picker keeps its last states; the next status or hello refreshes them
    }
  }

  private _finishRun(run: IRunView): void {
    if (run.result) {
      this._items.unshift({ task: run.task, summary: run.result.summary, code: run.result.code });
      this._items = this._items.slice(0, 50);
    }
  }

  // -- actions -----------------------------------------------------------------------------------
  private _canSend(): boolean {
    this._showError('');
    if (this._conn !== 'connected' || !this._comm) {
      this._showError('smallcode is not loaded in this kernel: click "Load smallcode" first');
      return false;
    }
    if (this._run && !this._run.finished) {
      this._showError('a task is running: stop it or wait');
      return false;
    }
    return true;
  }

  private _submit(): void {
    if (!this._canSend()) {
      return;
    }
    const nb = this._nb;
    const task = this._task.value.trim();
    if (!task) {
      this._showError('say what the code should do');
      this._task.focus();
      return;
    }
    const active = nb?.content.activeCell ?? null;
    const change = this._changeCell.checked && !!active;
    const source = active?.model.sharedModel.getSource() ?? '';
    this._send(task, task, {
      cell: change ? { source } : null,
      active: nb ? nb.content.activeCellIndex : null,
      target: change && active ? { cellId: active.model.id, source } : null
    });
  }

  /** Send the failing cell and its error: the kernel builds the repair request itself. */
  private _fix(): void {
    if (!this._canSend()) {
      return;
    }
    const target = this._fixTarget();
    const cell = target ? this._nb?.content.widgets[target.index] : undefined;
    if (!target || !cell) {
      this._showError('no cell with an error to fix: run the cell first');
      return;
    }
    this._send('', `Fix this error (cell ${target.index + 1})`, {
      cell: { source: target.source, error: target.error },
      active: target.index,
      fix: true,
      target: { cellId: cell.model.id, source: target.source }
    });
  }

  private _send(
    task: string,
    title: string,
    opts: {
      cell: { source: string; error?: string } | null;
      active: number | null;
      fix?: boolean;
      target: { cellId: string; source: string } | null;
    }
  ): void {
    const nb = this._nb;
    if (!this._comm) {
      return;
    }
    const cells = nb ? nb.content.widgets.map(c => (c.model.type === 'code' ? c.model.sharedModel.getSource() : '')) : [];
    const id = `t${Date.now().toString(36)}${++this._counter}`;
    const msg = buildRunMessage(id, task, {
      model: modelForRun(this._options(), this._picked),
      maxIters: parseCount(this._maxIters.value, 0, 10),
      candidates: parseCount(this._candidates.value, 1, 10),
      runTests: this._runTestsTouched ? this._runTests.checked : undefined,
      cells,
      notebook: nb?.context.path.split('/').pop() ?? 'notebook',
      active: opts.active,
      cell: opts.cell,
      fix: opts.fix
    });
    this._run = newRun(id, title);
    this._runCell = opts.target;
    this._replaced = null;
    try {
      this._comm.send(msg);
    } catch (e) {
      this._run = { ...this._run, finished: true, status: 'failed', error: `could not reach the kernel: ${e}` };
    }
    this._render();
  }

  private _stop(): void {
    if (this._comm && this._run && !this._run.finished) {
      try {
        this._comm.send({ type: 'stop', id: this._run.id });
      } catch (e) {
        this._showError(`could not reach the kernel: ${e}`);
      }
    }
  }

  private _insertBelow(code: string): void {
    const nb = this._nb;
    if (!nb) {
      this._showError('no active notebook');
      return;
    }
    NotebookActions.insertBelow(nb.content);
    const cell = nb.content.activeCell;
    if (cell) {
      cell.model.sharedModel.setSource(code.replace(/\n+$/, ''));
    }
  }

  /** The cell Replace changes: the one the run was about (changed or fixed), else the active one. */
  private _replaceTarget() {
    const nb = this._nb;
    const id = this._runCell?.cellId;
    const cell = id ? nb?.content.widgets.find(c => c.model.id === id) : nb?.content.activeCell;
    return cell ?? null;
  }

  private _replaceActive(code: string): void {
    const cell = this._replaceTarget();
    if (!cell) {
      this._showError(this._runCell ? 'the cell of this task is gone' : 'no active cell');
      return;
    }
    this._replaced = { cellId: cell.model.id, source: cell.model.sharedModel.getSource() };
    cell.model.sharedModel.setSource(code.replace(/\n+$/, ''));
    this._render();
  }

  private _undoReplace(): void {
    const saved = this._replaced;
    const nb = this._nb;
    if (!saved || !nb) {
      return;
    }
    const cell = nb.content.widgets.find(c => c.model.id === saved.cellId);
    if (cell) {
      cell.model.sharedModel.setSource(saved.source);
    } else {
      this._showError('the replaced cell is gone');
    }
    this._replaced = null;
    this._render();
  }

  private _showError(message: string): void {
    this._error.textContent = message;
    this._error.style.display = message ? '' : 'none';
  }

  // -- rendering ---------------------------------------------------------------------------------
  private _scheduleRender(): void {
    if (this._pending) {
      return;
    }
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this._render();
    });
  }

  private _render(): void {
    this._renderStatus();
    this._renderConnect();
    this._renderModels();
    this._renderRun();
    this._renderHistory();
    this._renderFixButton();
  }

  private _renderStatus(): void {
    const nb = this._nb;
    const parts: string[] = [];
    if (nb) {
      parts.push(`${nb.context.path.split('/').pop()} · kernel ${this._kernelStatus || nb.sessionContext.kernelDisplayStatus}`);
    }
    const conn: Record<Connection, string> = {
      'no-notebook': 'open a notebook',
      'no-kernel': 'no kernel',
      probing: 'checking the kernel…',
      'not-loaded': 'smallcode not loaded',
      'loading-ext': 'loading smallcode…',
      connecting: 'connecting…',
      connected: `model ${shortModel(this._currentModel)}`,
      unsupported: 'not an IPython kernel'
    };
    parts.push(conn[this._conn] + (this._connDetail ? ` (${this._connDetail})` : ''));
    if (this._kernelBusy) {
      parts.push(`busy: ${this._modelState}`);
    }
    this._status.textContent = parts.join(' · ');
    this._status.title = this._currentModel ? `model: ${this._currentModel}` : '';
    this.node.dataset.connection = this._conn;
  }

  private _renderConnect(): void {
    const c = this._connect;
    c.replaceChildren();
    if (this._conn === 'not-loaded') {
      const button = h('button', { class: 'jp-smallcode-load-button jp-mod-styled jp-mod-accept' }, 'Load smallcode');
      button.addEventListener('click', () => void this._loadExtension());
      c.append(h('p', {}, 'smallcode is not loaded in this notebook’s kernel.'), button);
    } else if (this._conn === 'no-notebook') {
      c.append(h('p', {}, 'Open a notebook: the panel works in its kernel.'));
    } else if (this._conn === 'unsupported') {
      c.append(h('p', {}, 'smallcode needs a Python (IPython) kernel.'));
    }
    const ready = this._conn === 'connected';
    const running = !!this._run && !this._run.finished;
    this._form.classList.toggle('jp-mod-disabled', !ready);
    this._runButton.disabled = !ready || running || !!this._kernelBusy;
    this._stopButton.disabled = !ready || !running;
  }

  private _options(): IModelOption[] {
    return modelOptions(this._models, this._currentModel);
  }

  private _renderModels(): void {
    const d = this._defaults;
    this._maxIters.placeholder = countPlaceholder(d?.max_iters, -1);
    this._candidates.placeholder = countPlaceholder(d?.candidates, 0);
    if (d && !this._runTestsTouched) {
      this._runTests.checked = d.run_tests;
    }
    const key = JSON.stringify([this._models, this._currentModel, this._picked]);
    if (key === this._modelsKey) {
      return;
    }
    this._modelsKey = key;
    const options = this._options();
    const chosen = selectedModel(options, this._picked);
    this._model.replaceChildren(
      ...options.map(m => {
        const o = h('option', { value: m.value }, m.label);
        o.selected = m.value === chosen;
        return o;
      })
    );
    this._model.value = chosen;
  }

  /** The cell "Fix this error" would repair (see {@link fixTarget}). */
  private _fixTarget(): IFixTarget | null {
    const nb = this._nb;
    if (!nb) {
      return null;
    }
    const widgets = nb.content.widgets;
    const cells = widgets.map(c =>
      c.model.type === 'code'
        ? { source: c.model.sharedModel.getSource(), outputs: (c.model as any).outputs.toJSON() }
        : null
    );
    const failed = this._lastFailed ? widgets.findIndex(c => c.model.id === this._lastFailed) : -1;
    return fixTarget(cells, nb.content.activeCellIndex, failed >= 0 ? failed : null);
  }

  private _renderFixButton(): void {
    const target = this._fixTarget();
    this._fixButton.style.display = target ? '' : 'none';
    this._fixButton.title = target
      ? `Repair cell ${target.index + 1}: ${target.error.split('\n').pop()}`
      : '';
    this._fixButton.disabled = this._conn !== 'connected' || (!!this._run && !this._run.finished);
  }

  private _renderRun(): void {
    const run = this._run;
    const v = this._view;
    v.replaceChildren();
    if (!run) {
      return;
    }
    v.dataset.state = run.finished ? (run.error ? 'error' : 'done') : 'running';
    v.append(h('div', { class: 'jp-smallcode-run-task' }, run.task), h('div', { class: 'jp-smallcode-run-status' }, run.status));
    const stages = h('ol', { class: 'jp-smallcode-stages' });
    for (const s of run.stages) {
      const li = h('li', { class: `jp-smallcode-stage jp-smallcode-stage-${s.kind}` }, s.text);
      if (s.ok !== undefined) {
        li.classList.add(s.ok ? 'jp-mod-ok' : 'jp-mod-fail');
      }
      if (s.items && s.items.length) {
        li.append(h('ul', {}, ...s.items.slice(0, 12).map(i => h('li', {}, i))));
      }
      if (s.detail) {
        li.append(h('pre', { class: 'jp-smallcode-traceback' }, s.detail));
      }
      if (s.description) {
        li.append(
          h(
            'details',
            { class: 'jp-smallcode-description' },
            h('summary', {}, 'what the model sees'),
            h('pre', {}, s.description)
          )
        );
      }
      stages.append(li);
    }
    v.append(stages);
    if (run.error) {
      v.append(h('div', { class: 'jp-smallcode-run-error', role: 'alert' }, run.error));
    }
    if (!run.result) {
      if (run.code) {
        v.append(h('pre', { class: 'jp-smallcode-stream' }, run.code));
      }
      return;
    }
    const r = run.result;
    const code = r.code;
    v.append(h('div', { class: `jp-smallcode-summary ${r.passed === false ? 'jp-mod-fail' : 'jp-mod-ok'}` }, r.summary));
    const changed = changedNote(r);
    if (changed) {
      v.append(h('div', { class: 'jp-smallcode-changed', role: 'note' }, changed));
    }
    const pre = h('pre', { class: 'jp-smallcode-code cm-s-jupyter' });
    pre.dataset.code = code;
    pre.textContent = code;
    if (this.languages) {
      const lang = this.languages.findBest('python');
      pre.textContent = '';
      void this.languages.highlight(code, lang, pre).catch(() => (pre.textContent = code));
    }
    v.append(pre);
    if (this._runCell) {
      const diff = h('pre', { class: 'jp-smallcode-diff' });
      for (const d of lineDiff(this._runCell.source, code)) {
        diff.append(h('div', { class: d.op === '+' ? 'jp-mod-add' : d.op === '-' ? 'jp-mod-del' : '' }, `${d.op} ${d.text}`));
      }
      v.append(h('div', { class: 'jp-smallcode-diff-title' }, 'Diff against the cell'), diff);
    }
    const insert = h('button', { class: 'jp-smallcode-insert jp-mod-styled jp-mod-accept' }, 'Insert below');
    insert.addEventListener('click', () => this._insertBelow(code));
    const replace = h(
      'button',
      { class: 'jp-smallcode-replace jp-mod-styled', title: 'Replace the cell this task changes (else the active cell); Undo puts it back' },
      this._runCell ? 'Replace the cell' : 'Replace active cell'
    );
    replace.addEventListener('click', () => this._replaceActive(code));
    const copy = h('button', { class: 'jp-smallcode-copy jp-mod-styled' }, 'Copy');
    copy.addEventListener('click', () => Clipboard.copyToSystem(code));
    const actions = h('div', { class: 'jp-smallcode-actions' }, insert, replace, copy);
    if (this._replaced) {
      const undo = h('button', { class: 'jp-smallcode-undo jp-mod-styled jp-mod-warn' }, 'Undo replace');
      undo.addEventListener('click', () => this._undoReplace());
      actions.append(undo);
    }
    if (!code.trim()) {
      insert.disabled = replace.disabled = copy.disabled = true;
    }
    v.append(actions);
  }

  private _renderHistory(): void {
    const el = this._history;
    el.replaceChildren();
    if (!this._items.length) {
      return;
    }
    el.append(h('div', { class: 'jp-smallcode-history-title' }, 'History'));
    const list = h('ul', {});
    for (const item of this._items) {
      const rerun = h('button', { class: 'jp-smallcode-rerun jp-mod-styled', title: 'Run this task again' }, 'Re-run');
      rerun.addEventListener('click', () => {
        this._task.value = item.task;
        this._submit();
      });
      list.append(h('li', {}, h('span', { class: 'jp-smallcode-history-task' }, item.task), h('span', { class: 'jp-smallcode-history-summary' }, item.summary), rerun));
    }
    el.append(list);
  }

  private _nb: NotebookPanel | null = null;
  private _gen = 0;
  private _comm: Kernel.IComm | null = null;
  private _conn: Connection = 'no-notebook';
  private _connDetail = '';
  private _kernelStatus = '';
  private _needsProbe = false;
  private _kernelBusy: string | null = null;
  private _modelState = '';
  private _models: IModelInfo[] = [];
  private _defaults: IDefaults | null = null;
  private _picked: string | null = null; // an explicit pick in the model picker
  private _runTestsTouched = false;
  private _lastFailed: string | null = null; // the id of the last cell that raised
  private _modelsKey = '';
  private _currentModel = '';
  private _run: IRunView | null = null;
  private _runCell: { cellId: string; source: string } | null = null;
  private _replaced: { cellId: string; source: string } | null = null;
  private _items: IHistoryItem[] = [];
  private _counter = 0;
  private _pending = false;

  private _status!: HTMLDivElement;
  private _connect!: HTMLDivElement;
  private _form!: HTMLDivElement;
  private _task!: HTMLTextAreaElement;
  private _model!: HTMLSelectElement;
  private _maxIters!: HTMLInputElement;
  private _candidates!: HTMLInputElement;
  private _runTests!: HTMLInputElement;
  private _changeCell!: HTMLInputElement;
  private _runButton!: HTMLButtonElement;
  private _stopButton!: HTMLButtonElement;
  private _fixButton!: HTMLButtonElement;
  private _error!: HTMLDivElement;
  private _view!: HTMLDivElement;
  private _history!: HTMLDivElement;
}
