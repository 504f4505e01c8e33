import {
  buildRunMessage,
  cellError,
  describeEvent,
  KernelMessage,
  lineDiff,
  modelLabel,
  newRun,
  parseCount,
  parseKernelMessage,
  reduceRun,
  trimTraceback
} from '../protocol';

const RESULT = {
  task: 't',
  code: 'def add(a, b):\n    return a + b\n',
  model: 'smollm2-135m',
  passed: true,
  tests_passed: 2,
  tests_total: 2,
  iterations: 0,
  candidates: 1,
  seconds: 1.5,
  tokens: 40,
  failure: '',
  cancelled: false,
  subtasks: [],
  sources: [],
  summary: 'smollm2-135m · tests 2/2'
};

function feed(msgs: unknown[]) {
  let run = newRun('r1', 'add two numbers');
  for (const m of msgs) {
    const parsed = parseKernelMessage(m);
    expect(parsed).not.toBeNull();
    run = reduceRun(run, parsed as KernelMessage);
  }
  return run;
}

describe('parseKernelMessage', () => {
  it('accepts the kernel message types', () => {
    expect(parseKernelMessage({ type: 'accepted', id: 'x' })).toEqual({
      type: 'accepted',
      id: 'x'
    });
    expect(
      parseKernelMessage({ type: 'hello', version: '0.1', model: 'm', models: [], busy: null })
    ).not.toBeNull();
  });

  it('rejects what is not ours', () => {
    expect(parseKernelMessage(null)).toBeNull();
    expect(parseKernelMessage('hello')).toBeNull();
    expect(parseKernelMessage([1])).toBeNull();
    expect(parseKernelMessage({ type: 'dance' })).toBeNull();
    expect(parseKernelMessage({ type: 'event', id: 'x' })).toBeNull();
    expect(parseKernelMessage({ type: 'event', id: 'x', kind: 'error', data: {} })).toBeNull();
    expect(parseKernelMessage({ type: 'event', id: 'x', kind: 'start', data: null })).toBeNull();
    expect(parseKernelMessage({ type: 'result', id: 'x', result: null })).toBeNull();
    expect(parseKernelMessage({ type: 'error', id: 'x' })).toBeNull();
    expect(parseKernelMessage({ type: 'hello', models: 'no' })).toBeNull();
  });
});

describe('reduceRun', () => {
  it('follows a run from events to the result', () => {
    const run = feed([
      { type: 'accepted', id: 'r1' },
      { type: 'status', id: 'r1', state: 'loading', message: 'loading smollm2-135m' },
      { type: 'event', id: 'r1', kind: 'start', data: { model: 'smollm2-135m', task: 'add' } },
      { type: 'event', id: 'r1', kind: 'context', data: { sources: ['nb.ipynb:cell 2:1'] } },
      { type: 'event', id: 'r1', kind: 'generate', data: { candidate: 0, origin: 'greedy', part: '' } },
      { type: 'event', id: 'r1', kind: 'token', data: { text: 'def add' } },
      { type: 'event', id: 'r1', kind: 'token', data: { text: '(a, b):' } }
    ]);
    expect(run.code).toBe('def add(a, b):');
    expect(run.status).toBe('loading smollm2-135m');
    expect(run.stages.map(s => s.kind)).toEqual(['start', 'context', 'generate']);
    expect(run.stages[1].items).toEqual(['nb.ipynb:cell 2:1']);
    expect(run.finished).toBe(false);

    const done = reduceRun(run, { type: 'result', id: 'r1', result: RESULT });
    expect(done.finished).toBe(true);
    expect(done.result?.summary).toContain('2/2');
    expect(done.code).toBe(RESULT.code);
    expect(done.status).toBe('done');
  });

  it('restarts the streamed code at each candidate and repair', () => {
    const run = feed([
      { type: 'event', id: 'r1', kind: 'token', data: { text: 'x = 1' } },
      { type: 'event', id: 'r1', kind: 'repair', data: { iteration: 1, origin: 'fix', failure: 'boom' } }
    ]);
    expect(run.code).toBe('');
    expect(run.stages[0].text).toBe('repair 1 (fix)');
  });

  it('ignores messages of other runs and keeps errors of this one', () => {
    const run = newRun('r1', 't');
    expect(reduceRun(run, { type: 'accepted', id: 'other' })).toBe(run);
    expect(reduceRun(run, { type: 'error', id: null, message: 'no task is running' })).toBe(run);
    const failed = reduceRun(run, { type: 'error', id: 'r1', message: 'ModelError: nope' });
    expect(failed.error).toBe('ModelError: nope');
    expect(failed.finished).toBe(true);
  });

  it('marks a stopped run', () => {
    const run = reduceRun(newRun('r1', 't'), {
      type: 'result',
      id: 'r1',
      result: { ...RESULT, cancelled: true }
    });
    expect(run.status).toBe('stopped');
  });
});

describe('describeEvent', () => {
  it('shows failing runs with a trimmed traceback', () => {
    const s = describeEvent({
      kind: 'run',
      data: {
        candidate: 0,
        ok: false,
        passed: 1,
        total: 3,
        loaded: true,
        failure: 'add(2, 2) == 5',
        weak: false,
        traceback: '\u001b[31mTraceback\u001b[0m\nAssertionError'
      }
    });
    expect(s?.ok).toBe(false);
    expect(s?.text).toBe('✗ 1/3 checks');
    expect(s?.detail).toBe('add(2, 2) == 5\nTraceback\nAssertionError');
  });

  it('marks runs against the model-written tests', () => {
    const s = describeEvent({
      kind: 'run',
      data: { candidate: 1, ok: true, passed: 2, total: 2, loaded: true, failure: '', weak: true, traceback: '' }
    });
    expect(s?.text).toBe('✓ 2/2 checks (model-written tests)');
    expect(s?.detail).toBeUndefined();
  });

  it('lists the plan sub-tasks', () => {
    const s = describeEvent({
      kind: 'plan',
      data: { subtasks: [{ name: 'parse', signature: 'parse(s)', purpose: 'split', depends: [] }] }
    });
    expect(s?.text).toBe('plan: 1 sub-task');
    expect(s?.items).toEqual(['parse(s): split']);
  });

  it('lists the checks', () => {
    const s = describeEvent({ kind: 'checks', data: { count: 2, sources: 'docstring', labels: ['f(1)', 'f(2)'] } });
    expect(s?.text).toBe('checks: 2 (docstring)');
    expect(s?.items).toEqual(['f(1)', 'f(2)']);
    expect(describeEvent({ kind: 'checks', data: { count: 0, sources: '', labels: [] } })?.text).toBe(
      'checks: none found'
    );
  });

  it('has no line for tokens and prompts', () => {
    expect(describeEvent({ kind: 'token', data: { text: 'x' } })).toBeNull();
    expect(describeEvent({ kind: 'prompt', data: { text: 'Task: x' } })).toBeNull();
  });
});

describe('buildRunMessage', () => {
  it('sends only what is set', () => {
    expect(buildRunMessage('r', ' add ', { runTests: false })).toEqual({
      type: 'run',
      id: 'r',
      task: 'add',
      run_tests: false
    });
    const full = buildRunMessage('r', 'fix it', {
      runTests: true,
      model: 'smollm2-135m',
      maxIters: 0,
      candidates: 2,
      cells: ['a = 1', ''],
      notebook: 'x.ipynb',
      active: 1,
      cell: { source: 'a = b', error: "NameError: name 'b'" }
    });
    expect(full).toMatchObject({
      model: 'smollm2-135m',
      max_iters: 0,
      candidates: 2,
      cells: ['a = 1', ''],
      notebook: 'x.ipynb',
      active: 1,
      cell: { source: 'a = b', error: "NameError: name 'b'" }
    });
  });
});

describe('helpers', () => {
  it('parses counts', () => {
    expect(parseCount('3', 0, 10)).toBe(3);
    expect(parseCount('', 0, 10)).toBeNull();
    expect(parseCount('11', 0, 10)).toBeNull();
    expect(parseCount('-1', 0, 10)).toBeNull();
    expect(parseCount('2.5', 0, 10)).toBeNull();
  });

  it('trims tracebacks to their end', () => {
    const tb = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const t = trimTraceback(tb, 3);
    expect(t.split('\n')).toEqual(['…', 'line 27', 'line 28', 'line 29']);
  });

  it('diffs lines', () => {
    expect(lineDiff('a\nb\nc\n', 'a\nB\nc')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'B' },
      { op: ' ', text: 'c' }
    ]);
    expect(lineDiff('', 'x')).toEqual([{ op: '+', text: 'x' }]);
  });

  it('finds a cell error', () => {
    expect(cellError([{ output_type: 'stream', text: 'hi' }])).toBe('');
    const e = cellError([
      { output_type: 'error', ename: 'NameError', evalue: "name 'x' is not defined", traceback: ['\u001b[31mTraceback\u001b[0m'] }
    ]);
    expect(e).toBe("Traceback\nNameError: name 'x' is not defined");
  });

  it('labels models', () => {
    expect(modelLabel({ name: 'smollm2-135m', params_b: 0.135, state: 'installed' }, 'smollm2-135m')).toBe(
      'smollm2-135m 0.14B — installed (current)'
    );
  });
});

describe('done', () => {
  it('is shown as the result summary, not as a stage', () => {
    expect(
      describeEvent({
        kind: 'done',
        data: { summary: 's', code: '', passed: null, tests_passed: 0, tests_total: 0 }
      })
    ).toBeNull();
  });
});
