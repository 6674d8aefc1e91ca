import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ASSET_NAMES, assembleAssets, type DashboardAssets } from '../../shared/dashboard/assets.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Bundles the page's script with lightweight-charts (esbuild, in memory) and reads the pages and
 * the stylesheet: every byte the browser loads comes from Pinebridge, nothing from a CDN.
 */
export async function buildDashboardAssets(): Promise<DashboardAssets> {
  const source = (name: string) => readFile(join(here, name), 'utf8');
  const [bundle, page, login, style, favicon] = await Promise.all([
    build({
      entryPoints: [join(here, 'app.ts')],
      bundle: true,
      write: false,
      outfile: 'app.js',
      format: 'esm',
      platform: 'browser',
      // Browsers of the last few years: <dialog>, WebSocket, ResizeObserver (the chart's autoSize).
      target: ['chrome110', 'firefox115', 'safari16'],
      minify: true,
      legalComments: 'eof',
      logLevel: 'silent',
    }),
    source('page.html'),
    source('login.html'),
    source('style.css'),
    source('favicon.svg'),
  ]);
  const script = bundle.outputFiles.find((file) => file.path.endsWith('app.js'));
  if (script === undefined) throw new Error('esbuild produced no app.js for the dashboard');
  return assembleAssets({
    page,
    login,
    files: { 'app.js': script.text, 'style.css': style, 'favicon.svg': favicon },
  });
}

let cached: Promise<DashboardAssets> | undefined;

/** The assets, built once per process; a failed build is tried again on the next request. */
export function dashboardAssets(): Promise<DashboardAssets> {
  if (cached === undefined) {
    const building = buildDashboardAssets();
    cached = building;
    building.catch(() => {
      if (cached === building) cached = undefined;
    });
  }
  return cached;
}

/** Writes a build into `dir` as `index.html`, `login.html` and the asset files, for the Lambda bundle. */
export async function writeDashboardAssets(dir: string): Promise<void> {
  const assets = await buildDashboardAssets();
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'index.html'), assets.page.body),
    writeFile(join(dir, 'login.html'), assets.login.body),
    ...ASSET_NAMES.map((name) => writeFile(join(dir, name), assets.files.get(name)?.body ?? '')),
  ]);
}

// `tsx infra/dashboard/build.ts <dir>`: the dashboard function's bundling step (docs/DASHBOARD.md).
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('usage: tsx infra/dashboard/build.ts <output directory>\n');
    process.exit(2);
  }
  await writeDashboardAssets(dir);
  process.stdout.write(`dashboard assets written to ${dir}\n`);
}
