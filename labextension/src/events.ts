// Generated from smallcode_jupyter/loop/events.py by
//   python -m smallcode_jupyter.loop.events --ts > labextension/src/events.ts
// Do not edit: change the Python events and regenerate (tests/test_events.py checks it).

/** One part of a plan, as the plan event reports it. */
export interface ISubtask {
  name: string;
  signature: string;
  purpose: string;
  depends: string[];
}

/** The loop starts on a task. */
export interface IStartEvent {
  kind: 'start';
  data: {
    task: string;
    model: string;
  };
}

/** The checks candidates will run against (the user's, or the model's own: `sources`). */
export interface IChecksEvent {
  kind: 'checks';
  data: {
    count: number;
    sources: string;
    labels: string[];
  };
}

/** The task was split into parts, each generated in its own call. */
export interface IPlanEvent {
  kind: 'plan';
  data: {
    subtasks: ISubtask[];
  };
}

/** Retrieved snippets shown to the model (`file:line` of each). */
export interface IContextEvent {
  kind: 'context';
  data: {
    sources: string[];
  };
}

/** The notebook's live variables the model sees, and which were copied into the sandbox. */
export interface IStateEvent {
  kind: 'state';
  data: {
    names: string[];
    description: string;
    copied: string[];
    skipped: string[];
    seconds: number;
  };
}

/** A candidate is being generated (`part`: the plan part it is for, if any). */
export interface IGenerateEvent {
  kind: 'generate';
  data: {
    candidate: number;
    origin: string;
    part: string;
  };
}

/** The user message of a generation, for verbose views. */
export interface IPromptEvent {
  kind: 'prompt';
  data: {
    text: string;
  };
}

/** A piece of the greedy candidate as it is written. */
export interface ITokenEvent {
  kind: 'token';
  data: {
    text: string;
  };
}

/** A candidate ran against its checks (`weak`: the model's own tests). */
export interface IRunEvent {
  kind: 'run';
  data: {
    candidate: number;
    ok: boolean;
    passed: number;
    total: number;
    loaded: boolean;
    failure: string;
    weak: boolean;
    traceback: string;
  };
}

/** A repair round starts (`origin`: fix, rewrite, or the rewrite of one part). */
export interface IRepairEvent {
  kind: 'repair';
  data: {
    iteration: number;
    origin: string;
    failure: string;
  };
}

/** The loop finished; `passed` is null when nothing ran or nothing verified the code. */
export interface IDoneEvent {
  kind: 'done';
  data: {
    summary: string;
    code: string;
    passed: boolean | null;
    tests_passed: number;
    tests_total: number;
    changed: string[];
  };
}

/** Any event of the loop, as the kernel sends it. */
export type PipelineEvent =
  | IStartEvent
  | IChecksEvent
  | IPlanEvent
  | IContextEvent
  | IStateEvent
  | IGenerateEvent
  | IPromptEvent
  | ITokenEvent
  | IRunEvent
  | IRepairEvent
  | IDoneEvent;

export type EventKind = PipelineEvent['kind'];

/** The data of the event of kind `K`. */
export type EventData<K extends EventKind> = Extract<PipelineEvent, { kind: K }>['data'];

export const EVENT_KINDS: ReadonlyArray<EventKind> = [
  'start',
  'checks',
  'plan',
  'context',
  'state',
  'generate',
  'prompt',
  'token',
  'run',
  'repair',
  'done'
];
