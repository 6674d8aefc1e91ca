import { EventEmitter } from 'node:events';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Log } from '../../shared/ports/index.js';
import { TRADE_FLOW_TASK_NAMES, TRADE_FLOW_TASKS } from '../../shared/usecases/tasks.js';
import type { TradeFlowDeps } from '../../shared/usecases/trade-flow.js';

type Json = Parameters<StateMachine['run']>[0];

export interface LocalWorkflowOptions {
  /** Milliseconds for each Wait state instead of its real duration (tests use this). */
  waitOverrideMs?: number;
  /** Executions run at once; later ones wait their turn (default 24). */
  maxConcurrent?: number;
}

/**
 * Runs the synthesized trade-flow definition with aws-local-stepfunctions, each Task state bound
 * to the same use case its Lambda runs in AWS. Executions are tracked so shutdown can wait for them.
 */
export class LocalWorkflow {
  private readonly machine: StateMachine;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly aborts = new Set<() => void>();
  started = 0;
  failed = 0;
  /** Emits `settled` (input, output | undefined) as each execution ends; benchmarks and tests listen. */
  readonly events = new EventEmitter();

  constructor(
    definition: Record<string, unknown>,
    private readonly deps: TradeFlowDeps,
    private readonly log: Log,
    private readonly options: LocalWorkflowOptions = {},
  ) {
    this.machine = new StateMachine(definition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: false },
    });
  }

  private active = 0;
  private closed = false;
  private readonly waiting: (() => void)[] = [];

  /**
   * Starts an execution (or queues it behind `maxConcurrent` others); resolves with its output,
   * or with undefined when it failed. The bound is what one process can run well: hundreds of
   * executions at once only take turns failing their optimistic approvals on the one account item
   * (the storm test starved a few that way), while a queue decides them all, in arrival order.
   */
  start(input: Record<string, unknown>): Promise<unknown> {
    this.started++;
    const turn =
      this.active < (this.options.maxConcurrent ?? 24)
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    const done = turn
      .then(() => (this.closed ? undefined : this.execute(input)))
      .finally(() => {
        this.active--;
        this.waiting.shift()?.();
        this.inFlight.delete(done);
      });
    this.inFlight.add(done);
    return done;
  }

  private execute(input: Record<string, unknown>): Promise<unknown> {
    const handlers = Object.fromEntries(
      TRADE_FLOW_TASK_NAMES.map((name) => [
        name,
        (taskInput: Json) => TRADE_FLOW_TASKS[name].run(taskInput, this.deps) as Promise<Json>,
      ]),
    );
    const waits =
      this.options.waitOverrideMs === undefined ? undefined : { AwaitFill: this.options.waitOverrideMs };
    const execution = this.machine.run(input as Json, {
      overrides: { taskResourceLocalHandlers: handlers, ...(waits ? { waitTimeOverrides: waits } : {}) },
      noThrowOnAbort: true,
    });
    this.aborts.add(execution.abort);
    const done = execution.result
      .catch((error: unknown) => {
        this.failed++;
        this.log.error('trade flow execution failed', {
          signalId: input.signalId,
          error: (error as Error).message,
        });
        return undefined;
      })
      .then((output) => {
        this.events.emit('settled', input, output);
        return output;
      })
      .finally(() => {
        this.aborts.delete(execution.abort);
      });
    return done;
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Queued executions will not start (shutdown): their signals stay `received` for the reconciler. */
  close(): void {
    this.closed = true;
  }

  /** Waits for executions in flight (up to `timeoutMs`), then aborts what is left. */
  async drain(timeoutMs: number): Promise<void> {
    const timeout = new Promise((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
    for (const abort of this.aborts) abort();
  }
}
