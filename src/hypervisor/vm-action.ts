import { StrataError } from '../base/errors.js';

/**
 * The lifecycle state of a VM as the platform sees it.
 *
 * - `stopped`: defined, no VMM process (or a VMM that is configured but not booted).
 * - `starting` / `stopping`: a transition is under way (an operation holds the instance).
 * - `running` / `paused`: a VMM runs the guest; paused means no guest instruction runs and guest time stands still.
 * - `failed`: the VMM died or the guest faulted; the reason is kept beside the state. Start again to recover.
 */
export type VmState = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping' | 'failed';

/** Every VM state, in a stable order (for schemas and tests). */
export const VM_STATES: readonly VmState[] = ['stopped', 'starting', 'running', 'paused', 'stopping', 'failed'];

/**
 * Every change to a VM is one value of this union ("commands are data"): HTTP routes, the CLI and tests produce
 * these values and {@link planAction} decides whether the lifecycle allows them.
 */
export type VmAction =
  | { kind: 'start' }
  | { kind: 'stop'; force: boolean }
  | { kind: 'restart'; force: boolean }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'delete'; force: boolean }
  | { kind: 'update-limits' }
  | { kind: 'export' };

/** The action kinds, in a stable order. */
export const VM_ACTION_KINDS: readonly VmAction['kind'][] = [
  'start',
  'stop',
  'restart',
  'pause',
  'resume',
  'delete',
  'update-limits',
  'export',
];

/** What the lifecycle says about an action in a state: the state while it runs and the state it ends in. */
export interface ActionPlan {
  /** The state to record while the action runs (`starting`, `stopping`), or the current state for instant ones. */
  during: VmState;
  /** The state the action ends in when it succeeds (`deleted` when the instance is gone). */
  after: VmState | 'deleted';
  /** True when the action needs a running VMM to talk to. */
  needsVmm: boolean;
}

/**
 * The lifecycle state machine: the plan for `action` in `state`, or CONFLICT naming the instance, the action and
 * the state when the transition is not allowed. Transitions (`starting`, `stopping`) refuse everything but a
 * forced stop or delete, so two operations never drive one VM at once.
 */
export function planAction(name: string, state: VmState, action: VmAction): ActionPlan {
  const refuse = (why: string): never => {
    throw new StrataError('CONFLICT', `cannot ${action.kind} instance '${name}': it is ${state}${why}`);
  };
  const busy = state === 'starting' || state === 'stopping';
  switch (action.kind) {
    case 'start':
      if (state === 'stopped' || state === 'failed') return { during: 'starting', after: 'running', needsVmm: false };
      return refuse(state === 'paused' ? ' (use resume)' : '');
    case 'stop':
      if (state === 'running' || state === 'paused') return { during: 'stopping', after: 'stopped', needsVmm: true };
      if (busy && action.force) return { during: 'stopping', after: 'stopped', needsVmm: true };
      if (state === 'failed' && action.force) return { during: 'stopping', after: 'stopped', needsVmm: false };
      return refuse(busy ? ' (use --force)' : '');
    case 'restart':
      if (state === 'running' || state === 'paused') return { during: 'stopping', after: 'running', needsVmm: true };
      if (state === 'stopped' || state === 'failed') return { during: 'starting', after: 'running', needsVmm: false };
      return refuse(action.force ? '' : ' (use --force)');
    case 'pause':
      if (state === 'running') return { during: 'running', after: 'paused', needsVmm: true };
      return refuse('');
    case 'resume':
      if (state === 'paused') return { during: 'paused', after: 'running', needsVmm: true };
      return refuse('');
    case 'delete':
      if (state === 'stopped' || state === 'failed') return { during: state, after: 'deleted', needsVmm: false };
      if (action.force) return { during: 'stopping', after: 'deleted', needsVmm: true };
      return refuse(' (stop it first or use --force)');
    case 'update-limits':
      if (busy) return refuse('');
      return { during: state, after: state, needsVmm: state === 'running' || state === 'paused' };
    case 'export':
      // A consistent copy of the disk needs a guest that is not writing to it.
      if (state === 'stopped' || state === 'failed') return { during: state, after: state, needsVmm: false };
      return refuse(' (stop it first)');
  }
}

/** True when a VMM process is expected to exist for an instance in `state`. */
export function hasVmm(state: VmState): boolean {
  return state === 'running' || state === 'paused' || state === 'starting' || state === 'stopping';
}
