import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The PATH a user's shell has: without the node_modules/.bin folders npm scripts put first. */
const userPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

describe('a first contact on the Node the README allows', () => {
  it("package.json's engines admit Node 20, the README's minimum (npm warns EBADENGINE otherwise)", () => {
    const { engines } = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as {
      engines: { node: string };
    };
    expect(readFileSync(`${REPO}/README.md`, 'utf8')).toContain('Node.js 20 or newer');
    expect(engines.node).toBe('>=20');
  });

  it('`npx pinebridge --help` from a shell answers with Pinebridge first: no npm warning before it', () => {
    const npx = spawnSync('npx', ['--no', '--', 'pinebridge', '--help'], {
      cwd: REPO,
      env: { ...process.env, PATH: userPath, npm_config_update_notifier: 'false' },
      encoding: 'utf8',
    });
    const node = spawnSync('node', ['--version'], { env: { PATH: userPath }, encoding: 'utf8' });

    expect(`${npx.stderr}${npx.stdout}`).not.toContain('EBADENGINE');
    expect(`${npx.stderr}${npx.stdout}`.trimStart()).toMatch(
      /^pinebridge — operate the Pinebridge trading bot/,
    );
    expect(npx.status).toBe(0);
    // Recorded for the reader of a failure: which Node the user's shell runs.
    expect(node.stdout).toMatch(/^v\d+\./);
  }, 60_000);
});
