import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { adminFunctionName, type Stage, webhookSecretName } from '../config/names.js';
import { isWriteAction, type OperatorRequest } from '../usecases/operator.js';
import { SecretsManagerWebhookSecrets } from './secrets.js';

export type OperatorRequestInput = z.input<typeof OperatorRequest>;

/** Why a request failed, as the CLI's exit code tells scripts (see docs/RUNBOOK.md). */
export const FAILURE_KINDS = ['failed', 'usage', 'auth', 'unreachable'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export class OperatorClientError extends Error {
  override readonly name = 'OperatorClientError';
  constructor(
    message: string,
    readonly kind: FailureKind,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Where the operator's requests go: the local bot over HTTP, or a deployed stage's admin function. */
export interface OperatorClient {
  /** For messages: "the local bot at http://localhost:8000", "stage dev (pinebridge-dev-admin)". */
  readonly target: string;
  send(request: OperatorRequestInput): Promise<unknown>;
  /** Posts an alert body to the webhook with the configured secret; the secret never leaves this call. */
  postAlert(body: string): Promise<{ status: number; body: unknown }>;
}

const jsonOrText = async (response: Response): Promise<unknown> => {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
const errorOf = (body: unknown): string =>
  typeof body === 'object' && body !== null && 'error' in body ? String(body.error) : String(body);

/** The local bot (`npm start`): GET /status[/view] and POST /admin/<action> with the admin token. */
export class HttpOperatorClient implements OperatorClient {
  readonly target: string;

  constructor(
    private readonly baseUrl: string,
    private readonly adminToken: string | undefined,
    private readonly webhookSecret: string | undefined,
  ) {
    this.target = `the local bot at ${baseUrl}`;
  }

  async send(request: OperatorRequestInput): Promise<unknown> {
    if (!this.adminToken)
      throw new OperatorClientError(
        'no admin token: set PINEBRIDGE_ADMIN_TOKEN or run from the folder whose .env `npm start` wrote',
        'auth',
      );
    const { action, ...fields } = request;
    const write = isWriteAction(action);
    let url: string;
    if (write) {
      url = `${this.baseUrl}/admin/${action}`;
    } else {
      const query = new URLSearchParams(
        Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]): [string, string] => [k, String(v)]),
      ).toString();
      url = `${this.baseUrl}/status${action === 'status' ? '' : `/${action}`}${query ? `?${query}` : ''}`;
    }
    const response = await this.fetch(url, {
      method: write ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      ...(write ? { body: JSON.stringify(fields) } : {}),
    });
    const body = await jsonOrText(response);
    if (response.status === 401)
      throw new OperatorClientError(
        `${this.target} refused the admin token: check PINEBRIDGE_ADMIN_TOKEN (or .env) matches the bot's`,
        'auth',
      );
    if (response.status === 400) throw new OperatorClientError(`bad request: ${errorOf(body)}`, 'usage');
    if (!response.ok)
      throw new OperatorClientError(`${this.target} answered ${response.status}: ${errorOf(body)}`, 'failed');
    return body;
  }

  async postAlert(body: string): Promise<{ status: number; body: unknown }> {
    if (!this.webhookSecret)
      throw new OperatorClientError(
        'no webhook secret: set PINEBRIDGE_WEBHOOK_SECRET or run from the folder whose .env `npm start` wrote',
        'auth',
      );
    const response = await this.fetch(`${this.baseUrl}/webhook/${encodeURIComponent(this.webhookSecret)}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body,
    });
    return { status: response.status, body: await jsonOrText(response) };
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
    } catch (error) {
      throw new OperatorClientError(
        `cannot reach ${this.target}: is it running (npm start)? (${(error as Error).cause ?? (error as Error).message})`,
        'unreachable',
        { cause: error },
      );
    }
  }
}

/** How Lambda reports a handler's exception in the invoke answer. */
const LambdaFailure = z.object({ errorType: z.string().optional(), errorMessage: z.string().optional() });
const DeployedStatus = z.object({ deployment: z.object({ webhookUrl: z.string().url() }) });

const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);

/**
 * A deployed stage: invokes the admin function by name with the caller's own AWS credentials
 * (IAM decides who may), and reads the webhook secret from Secrets Manager for a test alert. The
 * CLI uses it with the operator's credentials; the web dashboard with its role's, which may invoke
 * the admin function and nothing else of the kind.
 */
export class LambdaOperatorClient implements OperatorClient {
  readonly target: string;
  private readonly functionName: string;
  private readonly lambda: LambdaClient;
  private readonly secrets: SecretsManagerClient;

  /**
   * `requestedBy` is recorded with every action (the caller's IAM identity for the CLI);
   * `functionName` is the stage's admin function unless given (the name a role was granted).
   */
  constructor(
    private readonly stage: Stage,
    private readonly requestedBy: string,
    region?: string,
    functionName: string = adminFunctionName(stage),
  ) {
    this.functionName = functionName;
    this.target = `stage ${stage} (${this.functionName})`;
    const options = { maxAttempts: 2, ...(region ? { region } : {}) };
    this.lambda = new LambdaClient(options);
    this.secrets = new SecretsManagerClient(options);
  }

  /** One request; `requestedBy` names who asked this time (the dashboard's session), else the client's. */
  async send(request: OperatorRequestInput, requestedBy: string = this.requestedBy): Promise<unknown> {
    let result: InvokeCommandOutput;
    try {
      result = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          Payload: new TextEncoder().encode(JSON.stringify({ ...request, requestedBy })),
        }),
      );
    } catch (error) {
      throw this.failure(error);
    }
    const text = new TextDecoder().decode(result.Payload ?? new Uint8Array());
    const body: unknown = text === '' ? null : JSON.parse(text);
    if (result.FunctionError) {
      const { errorType, errorMessage } = LambdaFailure.parse(body ?? {});
      throw new OperatorClientError(
        `${this.target} failed: ${errorType ?? 'error'}: ${errorMessage ?? 'no message'}`,
        errorType === 'ZodError' ? 'usage' : 'failed',
      );
    }
    return body;
  }

  async postAlert(body: string): Promise<{ status: number; body: unknown }> {
    const status = DeployedStatus.safeParse(await this.send({ action: 'status' }));
    const webhookUrl = status.data?.deployment.webhookUrl;
    if (!webhookUrl) throw new OperatorClientError(`${this.target} did not report its webhook URL`, 'failed');
    let secret: string;
    try {
      secret = (await new SecretsManagerWebhookSecrets(webhookSecretName(this.stage), this.secrets).get())
        .current;
    } catch (error) {
      throw this.failure(error);
    }
    try {
      const response = await fetch(`${webhookUrl}/${encodeURIComponent(secret)}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: response.status, body: await jsonOrText(response) };
    } catch (error) {
      throw new OperatorClientError(`cannot reach the webhook of ${this.target}`, 'unreachable', {
        cause: error,
      });
    }
  }

  private failure(error: unknown): OperatorClientError {
    const name = (error as Error).name;
    if (AUTH_ERRORS.has(name))
      return new OperatorClientError(
        `AWS refused the request to ${this.target} (${name}): check your AWS credentials and that they may invoke it`,
        'auth',
        { cause: error },
      );
    if (name === 'ResourceNotFoundException')
      return new OperatorClientError(
        `${this.target} was not found in this region: is the stage deployed? (pass --region or set AWS_REGION)`,
        'unreachable',
        { cause: error },
      );
    return new OperatorClientError(`${this.target}: ${name}: ${(error as Error).message}`, 'unreachable', {
      cause: error,
    });
  }
}
