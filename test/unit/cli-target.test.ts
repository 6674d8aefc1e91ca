import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT, runCli } from '../../infra/cli/main.js';
import { isLoopbackHost } from '../../infra/local/loopback.js';

/**
 * The CLI sends the admin token with every request to the local bot: over plain http only to this
 * machine. fetch is replaced, so a refused target is provably never contacted (and nothing here
 * reaches the network).
 */
const TOKEN = 'admin-token-0123456789abcdefghij';

function cli(args: string[], env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const run = runCli(args, {
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    prompt: async () => undefined,
    env: { PINEBRIDGE_ADMIN_TOKEN: TOKEN, ...env },
    cwd: '/nonexistent-pinebridge-folder',
  });
  return { run, out };
}

const fetchSpy = () => {
  const spy = vi.fn(
    async (_url: string | URL | Request, _init?: RequestInit) =>
      new Response(JSON.stringify({ orders: [] }), { headers: { 'content-type': 'application/json' } }),
  );
  vi.stubGlobal('fetch', spy);
  return spy;
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('pinebridge CLI: where the admin token may go', () => {
  it.each([
    ['--url', ['orders', '--url', 'http://192.0.2.10:8000'], {}],
    ['PINEBRIDGE_URL', ['orders'], { PINEBRIDGE_URL: 'http://bot.example.com' }],
    ['a wildcard address', ['orders', '--url', 'http://0.0.0.0:8000'], {}],
  ])(
    'refuses plain http to a host beyond this machine (%s): usage exit, nothing sent',
    async (_, args, env) => {
      const fetch = fetchSpy();

      const { run, out } = cli(args, env);

      expect(await run).toBe(EXIT.usage);
      expect(out.stderr).toMatch(/refusing to send the admin token over plain http to [^ ]+: .*https:\/\//);
      expect(fetch).not.toHaveBeenCalled();
    },
  );

  it.each([
    'http://localhost:8000',
    'http://127.0.0.1:8000',
    'http://127.0.0.2:8000',
    'http://[::1]:8000',
    'https://bot.example.com',
  ])('sends it to %s', async (url) => {
    const fetch = fetchSpy();

    const { run } = cli(['orders', '--json', '--url', url]);

    expect(await run).toBe(EXIT.ok);
    expect(String(fetch.mock.calls[0]?.[0])).toBe(`${url}/status/orders?open=false&limit=20`);
    expect(fetch.mock.calls[0]?.[1]?.headers).toMatchObject({ authorization: `Bearer ${TOKEN}` });
  });

  it('refuses a URL that is not one, or not http(s), as a usage error', async () => {
    const fetch = fetchSpy();

    const notUrl = cli(['status', '--url', 'localhost:8000']);
    const ftp = cli(['status', '--url', 'ftp://127.0.0.1']);

    expect(await notUrl.run).toBe(EXIT.usage);
    expect(await ftp.run).toBe(EXIT.usage);
    expect(ftp.out.stderr).toContain('must start with http:// (this machine) or https://');
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '[::1]'])(
    '%s is this machine only',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each([
    '0.0.0.0',
    '::',
    '192.168.1.20',
    '10.0.0.1',
    'bot.example.com',
    'localhost.example.com',
    '128.0.0.1',
  ])('%s is the network', (host) => expect(isLoopbackHost(host)).toBe(false));
});
