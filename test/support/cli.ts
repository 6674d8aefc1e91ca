import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../infra/cli/pinebridge.mjs', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A folder with no .env, so only the environment given names the bot's secrets. */
export const emptyFolder = () => mkdtempSync(join(tmpdir(), 'pinebridge-cli-'));

/**
 * Runs `pinebridge <args>` as the trader would: a separate process (the package's bin, on this
 * Node), with only the environment given (plus PATH), stdin closed unless `input` is given.
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // As the bin's shebang runs it.
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', BIN, ...args], {
      cwd: options.cwd ?? emptyFolder(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
