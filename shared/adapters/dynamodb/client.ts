import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One document client per container. `DYNAMODB_ENDPOINT` points it at DynamoDB Local; in AWS the
 * SDK's defaults apply, with tight timeouts so the webhook answers well inside TradingView's 3 s.
 */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const endpoint = typeof config.endpoint === 'string' ? config.endpoint : process.env.DYNAMODB_ENDPOINT;
  const client = new DynamoDBClient({
    maxAttempts: 3,
    ...(endpoint
      ? {
          endpoint,
          region: process.env.AWS_REGION ?? 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {}),
    ...config,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** True when a transaction was cancelled; `reasons[i]` is the code for the i-th item. */
export function cancellationReasons(error: unknown): string[] | undefined {
  if (error instanceof Error && error.name === 'TransactionCanceledException') {
    const reasons =
      (error as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.map((r) => r.Code ?? 'None');
  }
  return undefined;
}
