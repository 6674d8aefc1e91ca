import { afterEach, describe, expect, it } from 'vitest';
import { handler as breakerHandler } from '../../functions/breaker.js';
import { BrokerKeysWithheldError, lambdaDependencies } from '../../functions/lambda-deps.js';
import { AlpacaBroker } from '../../shared/adapters/alpaca/alpaca-broker.js';
import { TABLES, type TableNames } from '../../shared/adapters/dynamodb/tables.js';
import { freshTables } from '../support/dynamo.js';

/**
 * Least privilege at run time: with Alpaca configured, a Lambda that was not given ALPACA_SECRET_ID
 * (the webhook, RecordRejection, RecordFill, the breaker, /health) must neither read keys from
 * anywhere else nor fail its ordinary work because it has none.
 */

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function lambdaEnvironment(tables: TableNames): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_REGION: 'us-east-1',
    EVENT_BUS_NAME: 'pinebridge-test',
    PINEBRIDGE_CONFIG: JSON.stringify({ broker: 'alpaca' }),
    // Alpaca's own variables in the environment must not stand in for the withheld secret.
    APCA_API_KEY_ID: 'PK-should-not-be-used',
    APCA_API_SECRET_KEY: 'should-not-be-used',
    ...Object.fromEntries(
      Object.entries(TABLES).map(([key, def]) => [def.envVar, tables[key as keyof TableNames]]),
    ),
  };
}

describe('a Lambda given no broker keys', () => {
  it('gets a broker whose every use of the keys fails by name, never the APCA_* environment', async () => {
    const { tables } = await freshTables();

    const deps = lambdaDependencies(lambdaEnvironment(tables));

    expect(deps.broker).toBeInstanceOf(AlpacaBroker);
    await expect(deps.broker.ping()).rejects.toBeInstanceOf(BrokerKeysWithheldError);
  });

  it('the scheduled breaker skips its run until the first risk check has opened the book from the Alpaca account', async () => {
    const { tables } = await freshTables();
    process.env = lambdaEnvironment(tables);

    const result = await breakerHandler();

    expect(result).toEqual({ skipped: 'the book is not open yet' });
  });
});
