import { synthesizeFlow } from '../../infra/local/definition.js';
import { LocalWorkflow } from '../../infra/local/workflow.js';
import type { AlpacaCredentialSource } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { type CoreDependencies, createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { dynamoStorage } from '../../shared/adapters/dynamodb/storage.js';
import type { TableNames } from '../../shared/adapters/dynamodb/tables.js';
import { parseConfig } from '../../shared/config/load.js';
import type { ConfigInput } from '../../shared/config/schema.js';
import { validateAlert } from '../../shared/domain/alert.js';
import { canonicalJson, dedupKeyOf, sha256, signalIdOf } from '../../shared/domain/ids.js';
import type { Clock, Log, SignalPublisher } from '../../shared/ports/index.js';
import { freshTables } from './dynamo.js';

export const silentLog: Log = { info() {}, warn() {}, error() {} };

let cachedDefinition: Record<string, unknown> | undefined;

/** The state machine definition synthesized from the CDK stack, once per test file. */
export async function definition(): Promise<Record<string, unknown>> {
  cachedDefinition ??= (await synthesizeFlow(parseConfig({}))).definition;
  return cachedDefinition;
}

export interface FlowHarness {
  deps: CoreDependencies;
  endpoint: string;
  tables: TableNames;
  workflow: LocalWorkflow;
  /** Records an alert as the webhook would and returns its signal id. */
  record(alert: Record<string, unknown>, at?: Date): Promise<string>;
  /** Runs the trade flow for a recorded signal to its end (`event`: more of the execution input, as published). */
  run(signalId: string, event?: { receivedAt?: string; notBefore?: string }): Promise<unknown>;
}

/** Real DynamoDB Local tables, the real stores and paper broker, the synthesized workflow. */
export async function flowHarness(
  config: ConfigInput = {},
  clock?: Clock,
  options: {
    alpaca?: { credentials: AlpacaCredentialSource; tradingUrl?: string; dataUrl?: string };
    /** The AwaitFill wait, in ms (default 5: orders are polled at once). */
    pollMs?: number;
  } = {},
): Promise<FlowHarness> {
  const { endpoint, tables } = await freshTables();
  // Follow-up signals (a reversal's second leg) run through the same workflow, as on the bus.
  const followUps: Promise<unknown>[] = [];
  const publisher: SignalPublisher = {
    publish: async (event) => {
      followUps.push(workflow.start({ ...event }));
    },
  };
  const deps = createCoreDependencies(parseConfig(config), dynamoStorage(tables, { endpoint }), {
    publisher,
    ...(options.alpaca ? { alpaca: options.alpaca } : {}),
    ...(clock ? { clock } : {}),
  });
  const workflow = new LocalWorkflow(await definition(), deps, silentLog, {
    waitOverrideMs: options.pollMs ?? 5,
  });
  let sequence = 0;
  return {
    deps,
    endpoint,
    tables,
    workflow,
    async record(alert, at = deps.clock.now()) {
      const validated = validateAlert(alert);
      if (!validated.ok) throw new Error(`test alert is invalid: ${validated.error}`);
      const canonical = canonicalJson(validated.signal);
      const dedupKey = dedupKeyOf(validated.signal.alertId, `${canonical}#${sequence++}`);
      const receivedAt = at.toISOString();
      const signalId = signalIdOf(dedupKey, receivedAt);
      const result = await deps.signals.recordNew({
        signalId,
        signal: validated.signal,
        receivedAt,
        dedupKey,
        payloadHash: sha256(canonical).toString('hex'),
        dedupExpiresAt: new Date(at.getTime() + 300_000),
      });
      if (result.kind !== 'recorded') throw new Error(`test alert was not recorded: ${result.kind}`);
      return signalId;
    },
    async run(signalId, event = {}) {
      const output = await workflow.start({
        signalId,
        symbol: 'n/a',
        receivedAt: new Date().toISOString(),
        ...event,
      });
      // Settle the follow-ups this run published (and theirs), so assertions see the end state.
      while (followUps.length > 0) await Promise.all(followUps.splice(0));
      return output;
    },
  };
}
