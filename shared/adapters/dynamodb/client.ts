import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The region of every DynamoDB Local client: DynamoDB Local keeps a database per access key id and region. */
export const DYNAMODB_LOCAL_REGION = 'us-east-1';

/**
 * The client settings for DynamoDB Local at `endpoint`. Without `-sharedDb` DynamoDB Local keeps a
 * separate database per access key id (and region), so the id selects the bot's data and is as
 * secret as a password. The endpoint carries it the way a database URL carries its user,
 * `http://<accessKeyId>@127.0.0.1:<port>`, so an address and its credential never part; an
 * endpoint without one uses the id `local`. DynamoDB Local ignores the secret key.
 */
export function dynamoDbLocalConfig(
  endpoint: string,
): Required<Pick<DynamoDBClientConfig, 'endpoint' | 'region' | 'credentials'>> {
  const url = new URL(endpoint);
  return {
    endpoint: url.origin,
    region: DYNAMODB_LOCAL_REGION,
    credentials: { accessKeyId: decodeURIComponent(url.username) || 'local', secretAccessKey: 'local' },
  };
}

/**
 * One document client per container. `DYNAMODB_ENDPOINT` points it at DynamoDB Local (see
 * dynamoDbLocalConfig); in AWS the SDK's defaults apply, with tight timeouts so the webhook answers
 * well inside TradingView's 3 s.
 */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const endpoint = typeof config.endpoint === 'string' ? config.endpoint : process.env.DYNAMODB_ENDPOINT;
  const client = new DynamoDBClient({
    maxAttempts: 3,
    ...config,
    ...(endpoint ? dynamoDbLocalConfig(endpoint) : {}),
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
