import {
  buildRunMessage,
  cellError,
  changedNote,
  countPlaceholder,
  describeEvent,
  fixTarget,
  KernelMessage,
  lineDiff,
  modelForRun,
  modelLabel,
  modelOptions,
  newRun,
  parseCount,
  parseKernelMessage,
  reduceRun,
  selectedModel,
  shortModel,
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
        data: { summary: 's', code: '', passed: null, tests_passed: 0, tests_total: 0, changed: [] }
      })
    ).toBeNull();
  });
});

describe('live state', () => {
  it('lists the variables the model saw, what was not copied, and folds the description', () => {
    const s = describeEvent({
      kind: 'state',
      data: {
        names: ['sales', 'df'],
        description: 'sales: list of 3 dict',
        copied: ['sales'],
        skipped: ['df: over the size cap'],
        seconds: 0.01
      }
    });
    expect(s?.kind).toBe('state');
    expect(s?.text).toBe('live variables: sales, df (1 copied into the sandbox)');
    expect(s?.items).toEqual(['not copied: df: over the size cap']);
    expect(s?.description).toBe('sales: list of 3 dict');
  });

  it('says when no variable was referenced', () => {
    const s = describeEvent({
      kind: 'state',
      data: { names: [], description: '', copied: [], skipped: [], seconds: 0 }
    });
    expect(s?.text).toBe('live variables: none referenced');
    expect(s?.items).toBeUndefined();
    expect(s?.description).toBeUndefined();
  });

  it('is a stage of the run', () => {
    const run = feed([
      {
        type: 'event',
        id: 'r1',
        kind: 'state',
        data: { names: ['xs'], description: 'xs: list', copied: ['xs'], skipped: [], seconds: 0 }
      }
    ]);
    expect(run.stages.map(s => s.kind)).toEqual(['state']);
  });

  it('drops an event kind it does not know instead of failing', () => {
    expect(parseKernelMessage({ type: 'event', id: 'r1', kind: 'telepathy', data: {} })).toBeNull();
  });

  it('says which user variables the result changes', () => {
    expect(changedNote({ ...RESULT, changed: ['df (modified)', 'total'] })).toBe(
      'Changes your variables: df (modified), total'
    );
    expect(changedNote({ ...RESULT, changed: [] })).toBeNull();
    expect(changedNote(RESULT)).toBeNull();
  });
});

describe('run options follow the kernel', () => {
  it('leaves run_tests to the kernel unless the box was touched', () => {
    expect(buildRunMessage('r', 'add', {})).toEqual({ type: 'run', id: 'r', task: 'add' });
    expect(buildRunMessage('r', 'add', { runTests: true }).run_tests).toBe(true);
  });

  it('marks a fix', () => {
    const msg = buildRunMessage('r', '', {
      fix: true,
      cell: { source: 'f(', error: 'SyntaxError' },
      cells: ['f('],
      active: 0
    });
    expect(msg).toMatchObject({ fix: true, task: '', cell: { source: 'f(', error: 'SyntaxError' }, active: 0 });
  });

  it('shows the kernel traits as placeholders', () => {
    expect(countPlaceholder(undefined, 0)).toBe('preset');
    expect(countPlaceholder(0, 0)).toBe('preset');
    expect(countPlaceholder(-1, -1)).toBe('preset');
    expect(countPlaceholder(3, 0)).toBe('3 (kernel)');
  });
});

describe('model picker', () => {
  const presets = [
    { name: 'qwen2.5-coder-0.5b', params_b: 0.5, state: 'installed', current: false, spec: 'qwen2.5-coder-0.5b' },
    { name: 'smollm2-135m', params_b: 0.135, state: 'loaded', current: false, spec: 'smollm2-135m' }
  ];
  const gguf = { name: 'mine', state: 'loaded', current: true, spec: '/models/mine.gguf' };

  it('lists and selects the current model, also a .gguf the kernel switched to', () => {
    const options = modelOptions([gguf, ...presets], '/models/mine.gguf');
    expect(options.map(o => o.value)).toEqual(['/models/mine.gguf', 'qwen2.5-coder-0.5b', 'smollm2-135m']);
    expect(options[0].label).toBe('mine — loaded (current)');
    expect(selectedModel(options, null)).toBe('/models/mine.gguf');
  });

  it('adds the current model when an older kernel lists presets only', () => {
    const old = presets.map(({ name, params_b, state }) => ({ name, params_b, state }));
    const options = modelOptions(old, '/models/mine.gguf');
    expect(options[0]).toEqual({ value: '/models/mine.gguf', label: 'mine.gguf (current)', current: true });
    expect(selectedModel(options, null)).toBe('/models/mine.gguf');
    expect(modelOptions(old, 'smollm2-135m').find(o => o.current)?.value).toBe('smollm2-135m');
  });

  it('never switches the kernel on a run with the picker untouched', () => {
    const options = modelOptions([gguf, ...presets], '/models/mine.gguf');
    expect(modelForRun(options, null)).toBeUndefined();
    expect(modelForRun(options, '/models/mine.gguf')).toBeUndefined(); // picking the current one
    expect(modelForRun(options, 'smollm2-135m')).toBe('smollm2-135m');
    expect(modelForRun(options, 'gone')).toBeUndefined();
    expect(selectedModel(options, 'smollm2-135m')).toBe('smollm2-135m');
    expect(selectedModel(options, 'gone')).toBe('/models/mine.gguf');
  });

  it('shortens paths to their file name', () => {
    expect(shortModel('/models/mine.gguf')).toBe('mine.gguf');
    expect(shortModel('hf:owner/repo/file.gguf')).toBe('file.gguf');
    expect(shortModel('C:\\models\\m.gguf')).toBe('m.gguf');
    expect(shortModel('smollm2-135m')).toBe('smollm2-135m');
    expect(modelLabel({ name: '/models/mine.gguf', params_b: 0.5, state: 'ready', current: true }, '')).toBe(
      'mine.gguf 0.50B — ready (current)'
    );
  });

  it('marks the current model by the kernel flag', () => {
    expect(modelLabel(gguf, 'x')).toBe('mine — loaded (current)');
    expect(modelLabel({ ...presets[1], current: false }, 'smollm2-135m')).toBe('smollm2-135m 0.14B — loaded');
  });
});

describe('fix target', () => {
  const err = [{ output_type: 'error', ename: 'NameError', evalue: "name 'y' is not defined", traceback: [] }];
  const ok = [{ output_type: 'stream', text: '1' }];
  const cells = [
    { source: 'x = 1', outputs: ok },
    { source: 'print(y)', outputs: err },
    null, // a markdown cell
    { source: 'z = 2', outputs: [] }
  ];

  it('is the active cell when it shows an error', () => {
    expect(fixTarget(cells, 1, null)).toEqual({ index: 1, source: 'print(y)', error: "NameError: name 'y' is not defined" });
  });

  it('is the last cell that raised when the active one moved on', () => {
    expect(fixTarget(cells, 3, 1)?.index).toBe(1);
    expect(fixTarget(cells, 2, 1)?.index).toBe(1);
  });

  it('is nothing when no cell shows an error', () => {
    expect(fixTarget(cells, 0, null)).toBeNull();
    expect(fixTarget(cells, 3, 0)).toBeNull(); // it raised once, but was fixed and re-run
    expect(fixTarget(cells, 9, 7)).toBeNull();
  });
});
