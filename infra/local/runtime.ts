import type { AddressInfo } from 'node:net';
import { cachedProbe, componentHealth } from '../../functions/health.js';
import { createWebhookHandler } from '../../functions/webhook.js';
import { AlpacaBroker, type AlpacaCredentialSource } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { type CoreDependencies, createCoreDependencies } from '../../shared/adapters/dependencies.js';
import { ObservedTradingStateEvents } from '../../shared/adapters/events.js';
import { channelsFrom } from '../../shared/adapters/notify/channels.js';
import { channelCredentialsFrom } from '../../shared/adapters/notify/credentials.js';
import { EnvWebhookSecrets } from '../../shared/adapters/secrets.js';
import { ConfigError } from '../../shared/config/load.js';
import type { Config } from '../../shared/config/schema.js';
import { AuthFailureWatch, authFailuresNotice } from '../../shared/domain/notification.js';
import { logger } from '../../shared/logger.js';
import { BrokerAuthError, type Clock, type SignalPublisher } from '../../shared/ports/index.js';
import { evaluateBreaker } from '../../shared/usecases/breaker.js';
import { dailySummary, dailySummaryNotice, summaryDue } from '../../shared/usecases/daily-summary.js';
import { Notifier } from '../../shared/usecases/notifier.js';
import { isWriteAction, type OperatorRequest, operate } from '../../shared/usecases/operator.js';
import { completePassDue, reconcile } from '../../shared/usecases/reconcile.js';
import { createLocalDashboard } from '../dashboard/local.js';
import { synthesizeFlow, synthesizeFlowCached } from './definition.js';
import { checkAdminToken } from './env-file.js';
import { LocalEventBus, localPublisher } from './event-bus.js';
import { LOOPBACK } from './loopback.js';
import { pruneHistory } from './retention.js';
import { createLocalServer, TokenBucket } from './server.js';
import { type LocalStore, openStorage } from './store.js';
import { LocalWorkflow } from './workflow.js';

export interface LocalRuntimeOptions {
  config: Config;
  webhookSecret: string;
  adminToken: string;
  /** 0 picks a free port. */
  port: number;
  /** Where the HTTP server listens: 127.0.0.1 (this machine only) unless given. */
  host?: string;
  /**
   * Where the synthesized workflow is kept between starts, keyed by the config and the sources
   * it came from (`npm start`: .data/cache); synthesized afresh every start unless given.
   */
  flowCacheDir?: string;
  /**
   * Signals and orders older than `days` are exported to `auditDir` and pruned, at start and then
   * daily (SQLite only; see retention.ts).
   */
  retention?: { days: number; auditDir: string };
  /** Where the bot keeps its state: SQLite in memory unless given. */
  store?: LocalStore;
  clock?: Clock;
  /** Milliseconds for each AwaitFill wait instead of workflow.orderPollSeconds. */
  waitOverrideMs?: number;
  /** How often the circuit breaker is evaluated without an alert (default 30 s). */
  breakerIntervalMs?: number;
  /** How often the reconciler runs (default 60 s). */
  reconcileIntervalMs?: number;
  /** Alpaca's keys and (for the fake server) its address; else APCA_* from the environment when set. */
  alpaca?: { credentials: AlpacaCredentialSource; tradingUrl?: string; dataUrl?: string };
  /** How long /health and the dashboard reuse the broker probe's answer (default BROKER_PROBE_TTL_MS). */
  brokerProbeTtlMs?: number;
  /**
   * Where notification channels' credentials are read (docs/NOTIFICATIONS.md): the process
   * environment (with .env loaded) unless given.
   */
  env?: Record<string, string | undefined>;
}

export interface LocalRuntime {
  /** The bot's address as this machine reaches it (http://127.0.0.1:<port> when it listens on a wildcard). */
  url: string;
  deps: CoreDependencies;
  workflow: LocalWorkflow;
  /** Resolves when every workflow execution started so far has ended. */
  settle(): Promise<void>;
  /** The notifier, when a channel is configured. */
  notifier: Notifier | undefined;
  stop(): Promise<void>;
}

/**
 * The whole bot in one process: its database (SQLite by default), the synthesized state machine run by
 * aws-local-stepfunctions, an in-process bus applying the deployed rule, and an HTTP server
 * routing to the same webhook handler API Gateway invokes.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { config } = options;
  checkAdminToken(options.adminToken);
  const database = await openStorage(options.store ?? { kind: 'sqlite' });
  try {
    const { retention } = options;
    const history = retention === undefined ? undefined : database.history;
    if (retention !== undefined && history === undefined)
      throw new Error('a retention window needs the SQLite store');
    const flow = options.flowCacheDir
      ? await synthesizeFlowCached(config, options.flowCacheDir)
      : await synthesizeFlow(config);
    // The bus targets the workflow, and the workflow publishes follow-up legs on the bus.
    let bus: LocalEventBus | undefined;
    const publisher: SignalPublisher = {
      publish: async (event) => {
        if (bus === undefined) throw new Error('the local event bus is not running yet');
        await localPublisher(bus).publish(event);
      },
    };
    const notifier = notifierFor(config, options.env ?? process.env);
    const deps = createCoreDependencies(config, database.storage, {
      publisher,
      ...(notifier ? { notices: notifier } : {}),
      ...(options.alpaca ? { alpaca: options.alpaca } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      // Open dashboards hear of every change of trading state, whoever made it.
      events: new ObservedTradingStateEvents(logger, () => dashboard.notify('trading-state')),
    });
    // A real broker proves its keys belong to the configured mode before anything trades.
    // Unreachable now is not fatal: the check runs again before the first order.
    if (deps.broker instanceof AlpacaBroker) {
      await deps.broker.verify().catch((error: unknown) => {
        if (error instanceof BrokerAuthError) throw error;
        logger.warn('Alpaca is unreachable at start; its keys are checked again before the first order', {
          error: (error as Error).message,
        });
      });
    }
    const workflow = new LocalWorkflow(flow.definition, deps, logger, {
      ...(options.waitOverrideMs !== undefined ? { waitOverrideMs: options.waitOverrideMs } : {}),
    });
    bus = new LocalEventBus(flow.eventPattern, (detail) => void workflow.start(detail));
    const secrets = new EnvWebhookSecrets({
      ...process.env,
      PINEBRIDGE_WEBHOOK_SECRET: options.webhookSecret,
    });
    const webhook = createWebhookHandler({ ...deps, secrets });

    // Both front doors (admin API, dashboard) act through here: open dashboards see every outcome.
    const operateLocally = async (request: OperatorRequest, source: string) => {
      const result = await operate(deps, request, source);
      if (isWriteAction(request.action)) dashboard.notify('operator');
      return result;
    };
    // /health is public and the dashboard asks with every update: the broker's answer is reused for a
    // few seconds, so neither spends the Alpaca rate limit that orders need.
    const brokerProbe = cachedProbe(() => deps.broker.ping(), options.brokerProbeTtlMs);
    const health = () =>
      componentHealth({
        database: () => database.storage.probe(),
        workflow: async () => {
          if (workflow.failed > 0 && workflow.failed === workflow.started)
            throw new Error('every execution failed');
        },
        broker: brokerProbe,
      });
    const dashboard = createLocalDashboard({
      adminToken: options.adminToken,
      operate: operateLocally,
      health,
      log: logger,
    });
    workflow.events.on('settled', () => dashboard.notify('execution'));

    // As the auth-failures alarm does in AWS: refused secrets above the threshold are told once per window.
    const authFailures = new AuthFailureWatch(config.monitoring.authFailureThreshold);
    const server = createLocalServer({
      webhook: async (event) => {
        const answer = await webhook(event);
        if (answer.statusCode === 202) dashboard.notify('signal');
        if (answer.statusCode === 401 && notifier !== undefined) {
          const count = authFailures.record(Date.now());
          if (count !== undefined) notifier.notify(authFailuresNotice(count, 5, new Date().toISOString()));
        }
        return answer;
      },
      adminToken: options.adminToken,
      maxBodyBytes: config.webhook.maxBodyBytes,
      // Each with the stage's budget, as each API Gateway method has its own.
      throttles: {
        public: new TokenBucket(config.api.throttle.rateLimit, config.api.throttle.burstLimit),
        admin: new TokenBucket(config.api.throttle.rateLimit, config.api.throttle.burstLimit),
        dashboard: new TokenBucket(config.api.throttle.rateLimit, config.api.throttle.burstLimit),
      },
      operate: (request) => operateLocally(request, `operator (local admin API: ${request.action})`),
      health,
      dashboard,
    });
    const host = options.host ?? LOOPBACK;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    // After a crash or restart nothing may stay in flight: no workflow survived, so settle everything.
    // A broker that does not answer now must not keep the bot down: the scheduled run retries.
    // Complete (not from the index): orders an older version wrote are found and indexed too.
    let lastCompletePass: Date | undefined;
    const startedAt = deps.clock.now();
    await reconcile(deps, { settleAfterMs: 0, complete: true }).then(
      () => {
        lastCompletePass = startedAt;
      },
      (error: unknown) =>
        logger.warn('reconciliation at start failed; it runs again within a minute', {
          error: (error as Error).name,
        }),
    );

    // The retention window: at start, then once a day. A failure is logged and tried again tomorrow.
    const prune = () =>
      retention !== undefined && history !== undefined
        ? pruneHistory(deps, history, {
            retentionDays: retention.days,
            auditDir: retention.auditDir,
            log: logger,
          })
            .then(() => undefined)
            .catch((error: unknown) =>
              logger.error('retention: pruning failed; it runs again in a day', {
                error: (error as Error).message,
              }),
            )
        : undefined;
    await prune();
    const retentionTimer = retention === undefined ? undefined : setInterval(() => void prune(), 86_400_000);
    retentionTimer?.unref();

    // As the scheduled rule does in AWS: cool-downs end and trips land even when no alert arrives.
    const breakerTimer = setInterval(() => {
      evaluateBreaker(deps).catch((error: unknown) =>
        logger.error('scheduled circuit breaker evaluation failed', { error: (error as Error).name }),
      );
    }, options.breakerIntervalMs ?? 30_000);
    breakerTimer.unref();
    // And every minute, for what a workflow left behind (well after its order timeout).
    const reconcileTimer = setInterval(() => {
      const now = deps.clock.now();
      const complete = completePassDue(lastCompletePass, now);
      reconcile(deps, { settleAfterMs: (config.workflow.orderTimeoutSeconds + 120) * 1000, complete }).then(
        () => {
          if (complete) lastCompletePass = now;
        },
        (error: unknown) => logger.error('scheduled reconciliation failed', { error: (error as Error).name }),
      );
    }, options.reconcileIntervalMs ?? 60_000);
    reconcileTimer.unref();

    // The daily summary, a few minutes after each session's close (NYSE calendar: none on holidays,
    // 13:05 on early-close days). Only with a channel to tell.
    let summarizedFor: string | undefined;
    const summaryTimer =
      notifier === undefined
        ? undefined
        : setInterval(() => {
            const date = summaryDue(deps.clock.now(), summarizedFor);
            if (date === undefined) return;
            summarizedFor = date;
            dailySummary(deps).then(
              (summary) => notifier.notify(dailySummaryNotice(summary, deps.clock.now().toISOString())),
              (error: unknown) => logger.error('daily summary failed', { error: (error as Error).name }),
            );
          }, 60_000);
    summaryTimer?.unref();

    return {
      url: `http://${urlHostOf(host)}:${port}`,
      deps,
      workflow,
      notifier,
      settle: async () => {
        while (workflow.running > 0) await workflow.drain(60_000);
      },
      stop: async () => {
        try {
          clearInterval(breakerTimer);
          clearInterval(reconcileTimer);
          clearInterval(retentionTimer);
          clearInterval(summaryTimer);
          dashboard.stop();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          workflow.close();
          await workflow.drain(10_000);
          // What the last executions told is sent, for a few seconds at most: a dead channel never holds a stop.
          if (notifier !== undefined)
            await Promise.race([
              notifier.flush(),
              new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
            ]);
        } finally {
          // Whatever failed above, the database is closed (DynamoDB Local never left running on the data directory).
          await database.close();
        }
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * The notifier, when the environment turns a channel on. A half-set channel stops the start with
 * what is missing (a trader who set a token expects messages, not silence).
 */
function notifierFor(config: Config, env: Record<string, string | undefined>): Notifier | undefined {
  const { credentials, problems } = channelCredentialsFrom(env);
  if (problems.length > 0)
    throw new ConfigError(
      `notifications are half set up in .env: ${problems.join('; ')} (docs/NOTIFICATIONS.md)`,
    );
  const channels = channelsFrom(credentials);
  if (channels.length === 0) return undefined;
  logger.info('notifications on', { channels: channels.map((c) => c.name) });
  return new Notifier({ channels, settings: config.notifications, log: logger });
}

/** How this machine reaches a server listening on `host`: a wildcard is reached on loopback. */
function urlHostOf(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return LOOPBACK;
  return host.includes(':') ? `[${host}]` : host;
}
