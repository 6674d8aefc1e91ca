import { brokerKindOf } from '../../shared/adapters/dependencies.js';
import { EnvAlpacaCredentials, SecretUnavailableError } from '../../shared/adapters/secrets.js';
import { ConfigError, loadConfigFile } from '../../shared/config/load.js';
import { BrokerAuthError } from '../../shared/ports/index.js';
import { PrerequisiteError } from './dynamodb-local.js';
import { ensureLocalSecrets } from './env-file.js';
import { isLoopbackHost, LOOPBACK } from './loopback.js';
import { type LocalRuntime, startLocalRuntime } from './runtime.js';
import { localStoreOf } from './store.js';

/** The banner's warning when HOST puts the bot on the network. */
function exposureWarning(host: string, port: string): string[] {
  return [
    '',
    `WARNING: HOST=${host} puts the bot on the network (port ${port}), over plain HTTP.`,
    '  Anyone who can reach it can post alerts, try admin tokens and open the dashboard, and the webhook',
    '  secret and the admin token cross the network unencrypted. Put a TLS proxy and a firewall in front',
    '  of it, or unset HOST to listen on 127.0.0.1 only (docs/RUNBOOK.md, "Exposure").',
  ];
}

/** `npm start`: the bot in one process, paper trading, nothing to configure. */
async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new PrerequisiteError(
      `Node.js ${process.versions.node} is running, but Pinebridge needs Node 22: run it through npm (\`npm start\`), which uses the node@22 dev dependency, or install Node 22.`,
    );
  }
  // Handled from the first moment: a stop asked for while the bot is still starting (its server
  // may already answer /health while the reconciliation at start runs) waits for the start to
  // finish, then stops cleanly. Without a handler the signal would kill the process and orphan
  // the database on the data directory.
  let runtime: LocalRuntime | undefined;
  let stopAsked: string | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (runtime === undefined) {
      stopAsked ??= signal;
      return;
    }
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: finishing executions in flight, then stopping the database…\n`);
    try {
      await runtime.stop();
      process.stdout.write('Stopped cleanly.\n');
      process.exit(0);
    } catch (error) {
      process.stderr.write(`Stopping failed: ${(error as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const config = loadConfigFile(process.env.PINEBRIDGE_CONFIG_FILE ?? 'config.json');
  const secrets = ensureLocalSecrets('.env');
  const port = Number(process.env.PORT ?? 8000);
  // Loopback only unless HOST says otherwise: the bot serves plain HTTP.
  const host = process.env.HOST || LOOPBACK;
  const store = localStoreOf(config, process.env);
  const storeName =
    store.kind === 'sqlite'
      ? `SQLite, ${store.file}`
      : `DynamoDB Local, ${store.kind === 'dynamodb-local' ? store.dataDir : ''}`;
  process.stdout.write(
    `Starting Pinebridge: database (${storeName}), workflow synthesized from the CDK stack, HTTP server…\n`,
  );

  const broker = brokerKindOf(config, process.env);
  // For development against the fake Alpaca server (test/fakes/alpaca/main.ts) instead of Alpaca.
  const alpacaUrl = process.env.PINEBRIDGE_ALPACA_URL;
  runtime = await startLocalRuntime({
    config,
    port,
    host,
    store,
    flowCacheDir: '.data/cache',
    ...(config.local.retentionDays !== undefined && store.kind === 'sqlite'
      ? { retention: { days: config.local.retentionDays, auditDir: '.data/audit' } }
      : {}),
    webhookSecret: secrets.webhookSecret,
    adminToken: secrets.adminToken,
    ...(broker === 'alpaca' && alpacaUrl
      ? {
          alpaca: {
            credentials: new EnvAlpacaCredentials(process.env),
            tradingUrl: alpacaUrl,
            dataUrl: alpacaUrl,
          },
        }
      : {}),
  });
  const brokerName =
    broker === 'alpaca'
      ? `Alpaca ${config.alpaca.mode}${alpacaUrl ? ` at ${alpacaUrl}` : ''} (keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY)`
      : 'paper broker';

  const url = runtime.url.replace('127.0.0.1', 'localhost');
  const secretShown = secrets.generated ? secrets.webhookSecret : '$PINEBRIDGE_WEBHOOK_SECRET';
  const lines = [
    '',
    `Pinebridge is running on ${url} (${brokerName}, data in ${storeName}). Ctrl-C stops it cleanly.`,
    ...(isLoopbackHost(host) ? [] : exposureWarning(host, new URL(runtime.url).port)),
    secrets.generated
      ? `First start: generated a webhook secret and an admin token into .env (mode 0600). They are shown once:\n  webhook secret: ${secrets.webhookSecret}\n  admin token:    ${secrets.adminToken}`
      : 'Secrets are in .env (load them with: set -a; . ./.env; set +a).',
    '',
    'Send a test alert (a filled paper order):',
    `  curl -s -X POST ${url}/webhook/${secretShown} -H 'content-type: text/plain' \\`,
    `    -d "{\\"ticker\\":\\"AAPL\\",\\"action\\":\\"buy\\",\\"quantity\\":10,\\"price\\":187.5,\\"time\\":\\"$(date -u +%FT%TZ)\\"}"`,
    'See it:',
    `  curl -s ${url}/status -H "Authorization: Bearer ${secrets.generated ? secrets.adminToken : '$PINEBRIDGE_ADMIN_TOKEN'}"`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  if (stopAsked !== undefined) await stop(stopAsked);
}

main().catch((error: unknown) => {
  if (
    error instanceof PrerequisiteError ||
    error instanceof ConfigError ||
    error instanceof BrokerAuthError ||
    error instanceof SecretUnavailableError
  ) {
    process.stderr.write(`pinebridge: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(
      `pinebridge: port ${process.env.PORT ?? 8000} is in use; stop what uses it or start with PORT=8080 npm start\n`,
    );
  } else if (['EADDRNOTAVAIL', 'ENOTFOUND'].includes((error as NodeJS.ErrnoException).code ?? '')) {
    process.stderr.write(
      `pinebridge: cannot listen on HOST=${process.env.HOST}: it is not an address of this machine; unset HOST to listen on 127.0.0.1\n`,
    );
  } else {
    process.stderr.write(`pinebridge: could not start: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exit(1);
});
