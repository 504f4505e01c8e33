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
  cellError,
  COMM_TARGET,
  IModelInfo,
  IRunView,
  KernelMessage,
  lineDiff,
  LOADED_EXPRESSION,
  modelLabel,
  newRun,
  parseCount,
  parseKernelMessage,
  reduceRun
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
    this._follow();
  }

  /** Focus the task box (the keyboard shortcut opens the panel, then calls this). */
  focusTask(): void {
    this._task.focus();
  }

  /** Fill the task box for "Fix this error" on the active cell, and run it. */
  fixActiveCell(): void {
    this._changeCell.checked = true;
    this._submit(true);
  }

  dispose(): void {
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
        this._submit(false);
      }
    });
    this._model = h('select', {
      class: 'jp-smallcode-model',
      title: 'Model (presets and their state)'
    });
    this._maxIters = h('input', {
      class: 'jp-smallcode-iters',
      type: 'number',
      min: '0',
      max: '10',
      placeholder: 'preset',
      title: 'Repair rounds (empty: the model preset decides)'
    });
    this._candidates = h('input', {
      class: 'jp-smallcode-candidates',
      type: 'number',
      min: '1',
      max: '10',
      placeholder: 'preset',
      title: 'Candidates per task (empty: the model preset decides)'
    });
    this._runTests = h('input', { type: 'checkbox', class: 'jp-smallcode-runtests' });
    this._runTests.checked = true;
    this._changeCell = h('input', { type: 'checkbox', class: 'jp-smallcode-change' });
    this._runButton = h('button', { class: 'jp-smallcode-run-button jp-mod-styled jp-mod-accept' }, 'Run');
    this._runButton.addEventListener('click', () => this._submit(false));
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
        this._models = msg.models;
        this._currentModel = msg.model;
        this._kernelBusy = msg.busy;
        this._setConnection('connected');
        return;
      case 'models':
        this._models = msg.models;
        this._currentModel = msg.model;
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

  private _requestModels(): void {
    try {
      this._comm?.send({ type: 'models' });
    } catch {
      // the picker keeps its last states; the next status or hello refreshes them
    }
  }

  private _finishRun(run: IRunView): void {
    if (run.result) {
      this._currentModel = run.result.model || this._currentModel;
      this._items.unshift({ task: run.task, summary: run.result.summary, code: run.result.code });
      this._items = this._items.slice(0, 50);
    }
  }

  // -- actions -----------------------------------------------------------------------------------
  private _submit(fix: boolean): void {
    this._showError('');
    if (this._conn !== 'connected' || !this._comm) {
      this._showError('smallcode is not loaded in this kernel: click "Load smallcode" first');
      return;
    }
    if (this._run && !this._run.finished) {
      this._showError('a task is running: stop it or wait');
      return;
    }
    const nb = this._nb;
    const task = this._task.value.trim();
    const active = nb?.content.activeCell ?? null;
    const source = active?.model.sharedModel.getSource() ?? '';
    const error = active && active.model.type === 'code' ? cellError((active.model as any).outputs.toJSON()) : '';
    if (!task && !(fix && error)) {
      this._showError('say what the code should do');
      this._task.focus();
      return;
    }
    const sendCell = fix || this._changeCell.checked;
    const cells = nb ? nb.content.widgets.map(c => (c.model.type === 'code' ? c.model.sharedModel.getSource() : '')) : [];
    const id = `t${Date.now().toString(36)}${++this._counter}`;
    const msg = buildRunMessage(id, task, {
      model: this._model.value || undefined,
      maxIters: parseCount(this._maxIters.value, 0, 10),
      candidates: parseCount(this._candidates.value, 1, 10),
      runTests: this._runTests.checked,
      cells,
      notebook: nb?.context.path.split('/').pop() ?? 'notebook',
      active: nb ? nb.content.activeCellIndex : null,
      cell: sendCell && active ? { source, error: fix ? error : '' } : null
    });
    this._run = newRun(id, task || 'Fix this error');
    this._runCell = sendCell && active ? { source } : null;
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

  private _replaceActive(code: string): void {
    const cell = this._nb?.content.activeCell;
    if (!cell) {
      this._showError('no active cell');
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
      connected: `model ${this._currentModel}`,
      unsupported: 'not an IPython kernel'
    };
    parts.push(conn[this._conn] + (this._connDetail ? ` (${this._connDetail})` : ''));
    if (this._kernelBusy) {
      parts.push(`busy: ${this._modelState}`);
    }
    this._status.textContent = parts.join(' · ');
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

  private _renderModels(): void {
    const key = JSON.stringify([this._models, this._currentModel]);
    if (key === this._modelsKey) {
      return;
    }
    this._modelsKey = key;
    const chosen = this._model.value || this._currentModel;
    this._model.replaceChildren(
      ...this._models.map(m => {
        const o = h('option', { value: m.name }, modelLabel(m, this._currentModel));
        o.selected = m.name === chosen;
        return o;
      })
    );
  }

  private _renderFixButton(): void {
    const cell = this._nb?.content.activeCell;
    const error = cell && cell.model.type === 'code' ? cellError((cell.model as any).outputs.toJSON()) : '';
    this._fixButton.style.display = error ? '' : 'none';
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
      v.append(h('div', { class: 'jp-smallcode-diff-title' }, 'Diff against the active cell'), diff);
    }
    const insert = h('button', { class: 'jp-smallcode-insert jp-mod-styled jp-mod-accept' }, 'Insert below');
    insert.addEventListener('click', () => this._insertBelow(code));
    const replace = h('button', { class: 'jp-smallcode-replace jp-mod-styled' }, 'Replace active cell');
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
        this._submit(false);
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
  private _modelsKey = '';
  private _currentModel = '';
  private _run: IRunView | null = null;
  private _runCell: { source: string } | null = null;
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
