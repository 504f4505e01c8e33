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
  summary: string;
}

/** Messages the kernel sends (see smallcode_jupyter/panel/protocol.py). */
export type KernelMessage =
  | {
      type: 'hello';
      version: string;
      model: string;
      models: IModelInfo[];
      busy: string | null;
    }
  | { type: 'models'; model: string; models: IModelInfo[] }
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

/** Options the panel sends with a task. */
export interface IRunOptions {
  model?: string;
  maxIters?: number | null;
  candidates?: number | null;
  runTests: boolean;
  cells?: string[];
  notebook?: string;
  active?: number | null;
  cell?: { source: string; error?: string } | null;
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
    task: task.trim(),
    run_tests: opts.runTests
  };
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
  detail?: string;
  items?: string[];
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

/** A label for a model in the picker. */
export function modelLabel(m: IModelInfo, current: string): string {
  const size = m.params_b ? ` ${m.params_b.toFixed(2)}B` : '';
  const mark = m.name === current ? ' (current)' : '';
  return `${m.name}${size} — ${m.state}${mark}`;
}
