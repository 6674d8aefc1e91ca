import { type Config, workflowLimits } from '../config/schema.js';
import { bodySecretOf, dueAt, parseAlertJson, type Signal, validateAlert } from '../domain/alert.js';
import { canonicalJson, dedupKeyOf, sha256, signalIdOf } from '../domain/ids.js';
import { matchSecret } from '../domain/secrets.js';
import { errorSummary } from '../errors.js';
import type {
  Clock,
  Log,
  SignalPublisher,
  SignalReceived,
  SignalStore,
  TradingMetricsSink,
  WebhookOutcome,
  WebhookSecretSource,
} from '../ports/index.js';

export interface WebhookRequest {
  /** The raw body exactly as received (API Gateway may deliver it base64-encoded). */
  body: string | null;
  isBase64Encoded: boolean;
  /** The secret from `/webhook/{secret}`, when the alert URL carries it. */
  pathSecret: string | undefined;
}

export interface WebhookResponse {
  statusCode: 202 | 200 | 400 | 401 | 409 | 413 | 503;
  body: Record<string, unknown>;
}

export interface AcceptSignalDeps {
  config: Config;
  signals: SignalStore;
  publisher: SignalPublisher;
  secrets: WebhookSecretSource;
  clock: Clock;
  log: Log;
  /** Counts every answer by its cause (absent locally). */
  metrics?: TradingMetricsSink;
}

/** TradingView re-sends 5 s after a 5xx; copies arriving sooner are concurrent deliveries. */
export const REPUBLISH_AFTER_MS = 2000;

/**
 * Accept a TradingView alert.
 *
 * Primary course:
 *  1. Refuse a body over the size cap before reading it (413).
 *  2. Parse the raw body as JSON whatever its content type (400 naming the problem).
 *  3. Authenticate with the path secret or the body's secret/passphrase, in constant time (401).
 *  4. Validate the alert contract and normalize it into a Signal (400 listing the fields).
 *  5. Record signal + dedup marker in one conditional write (503 if that write fails;
 *     200 duplicate for a re-delivery; 409 when an alert id comes back with another payload).
 *  6. Publish the signal id to the bus and answer 202 — risk and broker work happen after.
 *     If publishing fails, answer 503: TradingView re-sends, and a re-delivery of a signal still
 *     `received` publishes it again.
 *  7. Count the answer by its cause (received, accepted, duplicate, auth failure, refusal).
 */
export async function acceptSignal(
  request: WebhookRequest,
  deps: AcceptSignalDeps,
): Promise<WebhookResponse> {
  try {
    const response = await answer(request, deps);
    deps.metrics?.signalAnswered(outcomeOf(response));
    return response;
  } catch (error) {
    deps.metrics?.signalAnswered('unavailable');
    throw error;
  }
}

/** The cause of an answer, for the metrics: the status code, and for a 400 whether it named fields. */
function outcomeOf(response: WebhookResponse): WebhookOutcome {
  switch (response.statusCode) {
    case 202:
      return 'accepted';
    case 200:
      return 'duplicate';
    case 401:
      return 'unauthorized';
    case 400:
      return 'fields' in response.body ? 'invalid' : 'malformed';
    case 413:
      return 'too_large';
    case 409:
      return 'id_conflict';
    case 503:
      return 'unavailable';
  }
}

async function answer(request: WebhookRequest, deps: AcceptSignalDeps): Promise<WebhookResponse> {
  const { config, log } = deps;
  const now = deps.clock.now();
  const raw = request.body ?? '';
  const bytes = request.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (bytes > config.webhook.maxBodyBytes) {
    log.warn('alert refused: body too large', { bytes, limit: config.webhook.maxBodyBytes });
    return { statusCode: 413, body: { error: `body is larger than ${config.webhook.maxBodyBytes} bytes` } };
  }
  const text = request.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;

  const secrets = await deps.secrets.get();
  if (request.pathSecret !== undefined && matchSecret(request.pathSecret, secrets, now) === undefined) {
    log.warn('alert refused: wrong secret', { where: 'path' });
    return { statusCode: 401, body: { error: 'unauthorized' } };
  }

  const parsed = parseAlertJson(text);
  if (!parsed.ok) {
    log.warn('alert refused: not JSON', { error: parsed.error });
    return {
      statusCode: 400,
      body: {
        error: parsed.error,
        messageCode: parsed.error.startsWith('body is empty') ? 'empty-json' : 'malformed-json',
      },
    };
  }

  const secretUsed =
    request.pathSecret !== undefined
      ? matchSecret(request.pathSecret, secrets, now)
      : matchSecret(bodySecretOf(parsed.value), secrets, now);
  if (secretUsed === undefined) {
    log.warn('alert refused: wrong or missing secret', {
      where: request.pathSecret !== undefined ? 'path' : 'body',
    });
    return { statusCode: 401, body: { error: 'unauthorized' } };
  }

  const validated = validateAlert(parsed.value);
  if (!validated.ok) {
    log.warn('alert refused: invalid', { fields: validated.fields, error: validated.error });
    return {
      statusCode: 400,
      body: { error: validated.error, fields: validated.fields, messageCode: validated.messageCode },
    };
  }

  const signal = validated.signal;
  // The secret belongs in the URL or in `secret`/`passphrase`, which are never kept. Anywhere else
  // (a comment, extras, a field's name) it would be recorded and shown: refuse the alert, without
  // saying where, so the answer cannot echo it either.
  const kept = canonicalJson(signal);
  if (
    [secrets.current, secrets.previous].some(
      (known) => known !== undefined && known.length > 0 && kept.includes(known),
    )
  ) {
    log.warn('alert refused: the webhook secret appears outside secret/passphrase');
    return {
      statusCode: 400,
      body: {
        error:
          'the alert carries the webhook secret in a field other than secret or passphrase; remove it from there',
        messageCode: 'invalid-payload',
      },
    };
  }
  const receivedAt = now.toISOString();
  const delayProblem = delayRefusal(signal, receivedAt, config);
  if (delayProblem !== undefined) {
    log.warn('alert refused: invalid', { fields: ['delay'], error: delayProblem });
    return {
      statusCode: 400,
      body: { error: `delay: ${delayProblem}`, fields: ['delay'], messageCode: 'invalid-delay' },
    };
  }
  const canonical = kept;
  const dedupKey = dedupKeyOf(signal.alertId, canonical);
  const signalId = signalIdOf(dedupKey, receivedAt);
  const retentionSeconds =
    signal.alertId !== undefined
      ? config.webhook.alertIdRetentionDays * 86_400
      : config.webhook.dedupWindowSeconds;

  let recorded: Awaited<ReturnType<SignalStore['recordNew']>>;
  try {
    recorded = await deps.signals.recordNew({
      signalId,
      signal,
      receivedAt,
      dedupKey,
      payloadHash: sha256(canonical).toString('hex'),
      dedupExpiresAt: new Date(now.getTime() + retentionSeconds * 1000),
    });
  } catch (error) {
    log.error('signal could not be recorded; answering 503 so TradingView re-sends', {
      error: errorSummary(error),
    });
    return { statusCode: 503, body: { error: 'could not record the signal; retry' } };
  }

  if (recorded.kind === 'duplicate') {
    // A re-delivery of a signal still undecided after a grace period (its publish failed)
    // publishes it again; the workflow decides each signal once, so a second event is harmless.
    // Within the grace period a duplicate is most likely a concurrent copy: no extra event.
    const existing = await deps.signals.get(recorded.signalId);
    const stuck =
      existing?.status === 'received' &&
      now.getTime() - Date.parse(existing.receivedAt) >= REPUBLISH_AFTER_MS;
    if (
      existing &&
      stuck &&
      !(await publish(deps, signalEvent(existing.signalId, existing.signal, existing.receivedAt)))
    ) {
      return { statusCode: 503, body: { error: 'signal recorded but not queued; retry' } };
    }
    log.info('duplicate delivery', { signalId: recorded.signalId });
    return { statusCode: 200, body: { signalId: recorded.signalId, duplicate: true } };
  }
  if (recorded.kind === 'conflict') {
    log.error('alert id reused with a different payload; refused', {
      signalId: recorded.signalId,
      alertId: signal.alertId,
    });
    return {
      statusCode: 409,
      body: { error: 'this alert id was already used with a different payload', signalId: recorded.signalId },
    };
  }

  log.info('signal accepted', {
    signalId,
    symbol: signal.symbol,
    action: signal.action,
    secretUsed,
    ...(signal.ignored ? { ignored: signal.ignored } : {}),
  });
  if (!(await publish(deps, signalEvent(signalId, signal, receivedAt)))) {
    // Durable but not queued: TradingView re-sends on a 5xx, and the re-delivery publishes again.
    return { statusCode: 503, body: { error: 'signal recorded but not queued; retry' } };
  }
  // Fields the contract does not know are accepted and not acted on (TradersPost: "can be sent,
  // but will be ignored"): the answer names them, so a typo in a field is seen at once.
  return { statusCode: 202, body: { signalId, ...(signal.ignored ? { ignored: signal.ignored } : {}) } };
}

async function publish(deps: AcceptSignalDeps, event: SignalReceived): Promise<boolean> {
  try {
    await deps.publisher.publish(event);
    return true;
  } catch (error) {
    deps.log.error('signal recorded but not published', {
      signalId: event.signalId,
      error: errorSummary(error),
    });
    return false;
  }
}

/**
 * The event that starts a signal's workflow: its ids and times, and when it falls due (its
 * receipt unless delayed; the workflow's Delay state waits only when that is later). Whoever publishes a signal — the webhook, a
 * re-delivery, the reconciler, a reversal's second leg — builds it here.
 */
export function signalEvent(signalId: string, signal: Signal, receivedAt: string): SignalReceived {
  return { signalId, symbol: signal.symbol, receivedAt, notBefore: dueAt(signal, receivedAt) };
}

/** Why a signal's delay cannot be honoured by this workflow, if it cannot. */
function delayRefusal(signal: Signal, receivedAt: string, config: Config): string | undefined {
  const waitSeconds = (Date.parse(dueAt(signal, receivedAt)) - Date.parse(receivedAt)) / 1000;
  const { maxDelaySeconds } = workflowLimits(config.workflow);
  if (waitSeconds <= maxDelaySeconds) return undefined;
  return config.workflow.type === 'EXPRESS'
    ? `waits ${Math.ceil(waitSeconds)}s, and an Express workflow (5 minutes at most, orders resting up to workflow.orderTimeoutSeconds ${config.workflow.orderTimeoutSeconds}) can wait ${maxDelaySeconds}s at most; use workflow.type STANDARD for longer delays`
    : `waits ${Math.ceil(waitSeconds)}s, more than 24 hours`;
}
