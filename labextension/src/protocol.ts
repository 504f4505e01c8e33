/**
 * The panel ↔ kernel protocol and the pure helpers that turn kernel messages into what the
 * panel shows. No JupyterLab imports here: this module is unit-tested with Jest.
 *
 * The kernel side is smallcode_jupyter/panel/; keep the two in step. The loop's events are typed
 * in ./events.ts, generated from the Python events (smallcode_jupyter/loop/events.py).
 */

import { EVENT_KINDS, EventData, EventKind, PipelineEvent } from './events';

export { EVENT_KINDS };
export type { EventData, EventKind, PipelineEvent };

/** The comm target `%load_ext smallcode` registers in the kernel. */
export const COMM_TARGET = 'smallcode';

/** What `%load_ext smallcode` reports as loaded (an IPython user expression). */
export const LOADED_EXPRESSION =
  "'smallcode' in get_ipython().extension_manager.loaded";

export interface IModelInfo {
  name: string;
  params_b?: number;
  state: string;
  spec?: string; // what the kernel resolves (a preset name, a .gguf path, hf:...); default: name
  current?: boolean; // the kernel's model now
}

/** The kernel's per-request defaults (its `%config SmallcodeMagics` traits; 0 / -1: the preset). */
export interface IDefaults {
  candidates: number;
  max_iters: number;
  max_tokens: number;
  timeout: number;
  run_tests: boolean;
  plan: boolean;
  use_context: boolean;
  live_state: boolean;
}

export interface IResult {
  task: string;
  code: string;
  model: string;
  passed: boolean | null;
  tests_passed: number;
  tests_total: number;
  iterations: number;
  candidates: number;
  seconds: number;
  tokens: number;
  failure: string;
  cancelled: boolean;
  subtasks: string[];
  sources: string[];
  evidence?: string; // when passed is null: what the model's own tests said
  changed?: string[]; // the user's variables the code changes ("df (modified)")
  summary: string;
}

/** Messages the kernel sends (see smallcode_jupyter/panel/protocol.py). */
export type KernelMessage =
  | {
      type: 'hello';
      version: string;
      model: string;
      models: IModelInfo[];
      defaults?: IDefaults;
      busy: string | null;
    }
  | {
      type: 'models';
      model: string;
      models: IModelInfo[];
      defaults?: IDefaults;
    }
  | { type: 'accepted'; id: string }
  | { type: 'stopping'; id: string }
  | { type: 'status'; id: string; state: string; message: string }
  | ({ type: 'event'; id: string } & PipelineEvent)
  | { type: 'result'; id: string; result: IResult }
  | {
      type: 'error';
      id: string | null;
      message: string;
      traceback?: string;
    };

const KERNEL_TYPES = new Set([
  'hello',
  'models',
  'accepted',
  'stopping',
  'status',
  'event',
  'result',
  'error'
]);

/** Validate a comm payload from the kernel; null if it is not one of ours. */
export function parseKernelMessage(data: unknown): KernelMessage | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return null;
  }
  const msg = data as Record<string, any>;
  if (typeof msg.type !== 'string' || !KERNEL_TYPES.has(msg.type)) {
    return null;
  }
  switch (msg.type) {
    case 'event':
      if (
        !EVENT_KINDS.includes(msg.kind) ||
        typeof msg.data !== 'object' ||
        msg.data === null
      ) {
        return null;
      }
      break;
    case 'result':
      if (typeof msg.result !== 'object' || msg.result === null) {
        return null;
      }
      break;
    case 'error':
      if (typeof msg.message !== 'string') {
        return null;
      }
      break;
    case 'hello':
    case 'models':
      if (!Array.isArray(msg.models)) {
        return null;
      }
      break;
  }
  return msg as KernelMessage;
}

/**
 * Options the panel sends with a task. What is left out the kernel takes from its session (the
 * `%config` traits, then the model's preset), so the panel and `%%smallcode` cells agree.
 */
export interface IRunOptions {
  model?: string; // only an explicit pick: it switches the kernel's model
  maxIters?: number | null;
  candidates?: number | null;
  runTests?: boolean; // undefined: the kernel's run_tests trait
  cells?: string[];
  notebook?: string;
  active?: number | null;
  cell?: { source: string; error?: string } | null;
  fix?: boolean; // repair `cell`, which raised `cell.error` ("Fix this error")
}

/** The `run` message for the kernel (unset options are left to the model's preset). */
export function buildRunMessage(
  id: string,
  task: string,
  opts: IRunOptions
): Record<string, any> {
  const msg: Record<string, any> = {
    type: 'run',
    id,
    task: task.trim()
  };
  if (opts.runTests !== undefined) {
    msg.run_tests = opts.runTests;
  }
  if (opts.fix) {
    msg.fix = true;
  }
  if (opts.model) {
    msg.model = opts.model;
  }
  if (opts.maxIters !== undefined && opts.maxIters !== null) {
    msg.max_iters = opts.maxIters;
  }
  if (opts.candidates !== undefined && opts.candidates !== null) {
    msg.candidates = opts.candidates;
  }
  if (opts.cells && opts.cells.length) {
    msg.cells = opts.cells;
    msg.notebook = opts.notebook || 'notebook';
    if (opts.active !== undefined && opts.active !== null) {
      msg.active = opts.active;
    }
  }
  if (opts.cell) {
    msg.cell = opts.cell.error
      ? { source: opts.cell.source, error: opts.cell.error }
      : { source: opts.cell.source };
  }
  return msg;
}

/** A number box's value: a whole number in [lo, hi], or null when empty or invalid. */
export function parseCount(text: string, lo: number, hi: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) {
    return null;
  }
  const n = parseInt(t, 10);
  return n >= lo && n <= hi ? n : null;
}

/** One line of the run's live view. */
export interface IStage {
  kind: string;
  text: string;
  ok?: boolean;
  detail?: string; // a failure: shown as a trimmed traceback
  items?: string[];
  description?: string; // what the model was shown (the live state), folded by default
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** A traceback as text: ANSI colours removed, only the last `maxLines` lines. */
export function trimTraceback(tb: string, maxLines = 12): string {
  const lines = tb.replace(ANSI, '').replace(/\s+$/, '').split('\n');
  if (lines.length <= maxLines) {
    return lines.join('\n');
  }
  return ['…', ...lines.slice(lines.length - maxLines)].join('\n');
}

/** How each kind of event is listed (null: not a line of its own). */
type StageRenderers = {
  [K in EventKind]: (data: EventData<K>) => IStage | null;
};

const STAGES: StageRenderers = {
  start: d => ({
    kind: 'start',
    text: `${d.model}: ${String(d.task).slice(0, 120)}`
  }),
  checks: d => ({
    kind: 'checks',
    text: d.count ? `checks: ${d.count} (${d.sources})` : 'checks: none found',
    items: Array.isArray(d.labels) ? d.labels.map(String) : undefined
  }),
  plan: d => {
    const subs = Array.isArray(d.subtasks) ? d.subtasks : [];
    return {
      kind: 'plan',
      text: `plan: ${subs.length} sub-task${subs.length === 1 ? '' : 's'}`,
      items: subs.map(s =>
        s.purpose ? `${s.signature || s.name}: ${s.purpose}` : String(s.name)
      )
    };
  },
  context: d => {
    const sources = Array.isArray(d.sources) ? d.sources : [];
    return {
      kind: 'context',
      text: `context: ${sources.length} snippet${sources.length === 1 ? '' : 's'}`,
      items: sources
    };
  },
  state: d => {
    const names = Array.isArray(d.names) ? d.names.map(String) : [];
    const copied = Array.isArray(d.copied) ? d.copied.length : 0;
    const skipped = Array.isArray(d.skipped) ? d.skipped.map(String) : [];
    const copies = copied ? ` (${copied} copied into the sandbox)` : '';
    return {
      kind: 'state',
      text: names.length
        ? `live variables: ${names.join(', ')}${copies}`
        : 'live variables: none referenced',
      items: skipped.length ? skipped.map(s => `not copied: ${s}`) : undefined,
      description: d.description ? String(d.description) : undefined
    };
  },
  generate: d => ({
    kind: 'generate',
    text: `candidate ${Number(d.candidate) + 1} (${d.origin})${d.part ? ` for ${d.part}` : ''}`
  }),
  prompt: () => null, // shown by verbose text views only
  token: () => null, // streamed into the code, not listed
  run: d => ({
    kind: 'run',
    ok: Boolean(d.ok),
    text: `${d.ok ? '✓' : '✗'} ${d.passed}/${d.total} checks${d.weak ? ' (model-written tests)' : ''}`,
    detail: d.ok
      ? undefined
      : trimTraceback([d.failure, d.traceback].filter(Boolean).join('\n')) ||
        undefined
  }),
  repair: d => ({
    kind: 'repair',
    text: `repair ${d.iteration} (${d.origin})`,
    detail: d.failure ? trimTraceback(String(d.failure), 6) : undefined
  }),
  done: () => null // the summary is shown with the result
};

/** The stage line of a pipeline event (null for tokens and kinds the panel does not list). */
export function describeEvent(event: PipelineEvent): IStage | null {
  // TypeScript cannot correlate `event.kind` with `event.data` through the table's index, so
  // the lookup is widened once here; the table itself is checked kind by kind.
  const render = STAGES[event.kind] as (data: PipelineEvent['data']) => IStage | null;
  return render(event.data);
}

/** Everything the panel shows about one run. */
export interface IRunView {
  id: string;
  task: string;
  stages: IStage[];
  code: string; // the code as it streams (reset at each new candidate)
  status: string;
  result: IResult | null;
  error: string | null;
  finished: boolean;
}

export function newRun(id: string, task: string): IRunView {
  return {
    id,
    task,
    stages: [],
    code: '',
    status: 'sent',
    result: null,
    error: null,
    finished: false
  };
}

/** The next state of `run` after a kernel message (messages of other runs leave it as is). */
export function reduceRun(run: IRunView, msg: KernelMessage): IRunView {
  if (!('id' in msg) || (msg.id !== run.id && msg.id !== null)) {
    return run;
  }
  switch (msg.type) {
    case 'accepted':
      return { ...run, status: 'accepted' };
    case 'stopping':
      return { ...run, status: 'stopping…' };
    case 'status':
      return {
        ...run,
        status: msg.state === 'idle' ? run.status : msg.message
      };
    case 'event': {
      if (msg.kind === 'token') {
        return { ...run, code: run.code + String(msg.data.text ?? '') };
      }
      const stage = describeEvent(msg);
      const code =
        msg.kind === 'generate' || msg.kind === 'repair' ? '' : run.code;
      return stage
        ? { ...run, code, stages: [...run.stages, stage] }
        : { ...run, code };
    }
    case 'result':
      return {
        ...run,
        result: msg.result,
        code: msg.result.code,
        status: msg.result.cancelled ? 'stopped' : 'done',
        finished: true
      };
    case 'error':
      if (msg.id === null) {
        return run; // not about this run (e.g. a refused stop)
      }
      return { ...run, error: msg.message, status: 'failed', finished: true };
    default:
      return run;
  }
}

/** One line of a line diff. */
export interface IDiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

/** A line diff of `a` → `b` (longest common subsequence; cells are short). */
export function lineDiff(a: string, b: string): IDiffLine[] {
  const x = a ? a.replace(/\n$/, '').split('\n') : [];
  const y = b ? b.replace(/\n$/, '').split('\n') : [];
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () =>
    new Array<number>(m + 1).fill(0)
  );
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] =
        x[i] === y[j]
          ? lcs[i + 1][j + 1] + 1
          : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: IDiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: x[i++] });
    } else {
      out.push({ op: '+', text: y[j++] });
    }
  }
  while (i < n) {
    out.push({ op: '-', text: x[i++] });
  }
  while (j < m) {
    out.push({ op: '+', text: y[j++] });
  }
  return out;
}

/** The error of a code cell's outputs as text (`ename: evalue` + traceback), or ''. */
export function cellError(outputs: ReadonlyArray<Record<string, any>>): string {
  for (const out of outputs) {
    if (out.output_type === 'error') {
      const tb = Array.isArray(out.traceback) ? out.traceback.join('\n') : '';
      return trimTraceback(
        `${tb}\n${out.ename}: ${out.evalue}`.replace(/^\n/, ''),
        15
      );
    }
  }
  return '';
}

/** What a picker option sends back to the kernel: the model's spec (a preset's name, a path). */
export function modelValue(m: IModelInfo): string {
  return m.spec || m.name;
}

/** Is `m` the kernel's model? (`current` is the kernel's model spec, as hello/models carry it.) */
export function isCurrentModel(m: IModelInfo, current: string): boolean {
  if (m.current !== undefined) {
    return m.current;
  }
  return m.name === current || modelValue(m) === current;
}

/** A model spec as a short name: a file path's file name (an hf: spec's too), else as is. */
export function shortModel(spec: string): string {
  return /[\\/]/.test(spec) ? spec.split(/[\\/]/).pop() || spec : spec;
}

/** A label for a model in the picker. */
export function modelLabel(m: IModelInfo, current: string): string {
  const size = m.params_b ? ` ${m.params_b.toFixed(2)}B` : '';
  const mark = isCurrentModel(m, current) ? ' (current)' : '';
  return `${shortModel(m.name)}${size} — ${m.state}${mark}`;
}

/** One option of the model picker. */
export interface IModelOption {
  value: string;
  label: string;
  current: boolean;
}

/**
 * The picker's options: the kernel's rows, and its current model too when the kernel did not
 * list it (an older kernel lists presets only): the picker must be able to show what runs.
 */
export function modelOptions(models: ReadonlyArray<IModelInfo>, current: string): IModelOption[] {
  const out = models.map(m => ({
    value: modelValue(m),
    label: modelLabel(m, current),
    current: isCurrentModel(m, current)
  }));
  if (current && !out.some(o => o.current)) {
    out.unshift({ value: current, label: `${shortModel(current)} (current)`, current: true });
  }
  return out;
}

/** The option to select: the user's pick while it is listed, else the kernel's current model. */
export function selectedModel(options: ReadonlyArray<IModelOption>, picked: string | null): string {
  if (picked !== null && options.some(o => o.value === picked)) {
    return picked;
  }
  const cur = options.find(o => o.current);
  return cur ? cur.value : options.length ? options[0].value : '';
}

/**
 * The model a run asks for: only a model the user picked and that is not the kernel's current
 * one. Undefined keeps the kernel's model, whatever it is (a `%smallcode model path.gguf` too):
 * a Run with the picker untouched never switches the kernel's model.
 */
export function modelForRun(
  options: ReadonlyArray<IModelOption>,
  picked: string | null
): string | undefined {
  if (picked === null) {
    return undefined;
  }
  const o = options.find(x => x.value === picked);
  return o && !o.current ? o.value : undefined;
}

/** A number box's placeholder: the kernel's value of that trait, or the preset's when unset. */
export function countPlaceholder(value: number | undefined, unset: number): string {
  return value === undefined || value === unset ? 'preset' : `${value} (kernel)`;
}

/** The line under a result that says which of the user's variables the code changes. */
export function changedNote(result: IResult): string | null {
  const changed = Array.isArray(result.changed) ? result.changed.map(String) : [];
  return changed.length ? `Changes your variables: ${changed.join(', ')}` : null;
}

/** A cell the panel can offer to fix: its index, source and error text. */
export interface IFixTarget {
  index: number;
  source: string;
  error: string;
}

/**
 * The cell "Fix this error" repairs: the active cell if its outputs hold an error, else the
 * last cell that raised in this notebook (run with Shift+Enter, the active cell has moved on)
 * if it still shows its error. `cells` are the notebook's code cells' sources and outputs.
 */
export function fixTarget(
  cells: ReadonlyArray<{ source: string; outputs: ReadonlyArray<Record<string, any>> } | null>,
  active: number,
  lastFailed: number | null
): IFixTarget | null {
  for (const i of [active, lastFailed]) {
    if (i === null || i < 0 || i >= cells.length) {
      continue;
    }
    const cell = cells[i];
    const error = cell ? cellError(cell.outputs) : '';
    if (cell && error) {
      return { index: i, source: cell.source, error };
    }
  }
  return null;
}
