import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Asset {
  body: string;
  contentType: string;
  /** A strong ETag of the body, so a reload revalidates instead of downloading again. */
  etag: string;
}

/** Everything the dashboard serves that is not data: two pages and the files under /assets/. */
export interface DashboardAssets {
  page: Asset;
  login: Asset;
  /** By file name: `app.js`, `style.css`, `favicon.svg`. */
  files: ReadonlyMap<string, Asset>;
}

/** The files a build writes beside `index.html` and `login.html`, served under /assets/. */
export const ASSET_NAMES = ['app.js', 'style.css', 'favicon.svg'] as const;
export type AssetName = (typeof ASSET_NAMES)[number];
const CONTENT_TYPES: Record<AssetName, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};
const HTML = 'text/html; charset=utf-8';

export const asset = (body: string, contentType: string): Asset => ({
  body,
  contentType,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
});

export function assembleAssets(parts: {
  page: string;
  login: string;
  files: Record<AssetName, string>;
}): DashboardAssets {
  return {
    page: asset(parts.page, HTML),
    login: asset(parts.login, HTML),
    files: new Map(ASSET_NAMES.map((name) => [name, asset(parts.files[name], CONTENT_TYPES[name])])),
  };
}

/**
 * The assets a build wrote into `dir` (infra/dashboard/build.ts): how the dashboard function reads
 * them, from its own bundle, with no build tool at run time.
 */
export async function loadAssets(dir: string): Promise<DashboardAssets> {
  const read = (name: string) => readFile(join(dir, name), 'utf8');
  const [page, login, app, style, favicon] = await Promise.all([
    read('index.html'),
    read('login.html'),
    read('app.js'),
    read('style.css'),
    read('favicon.svg'),
  ]);
  return assembleAssets({
    page,
    login,
    files: { 'app.js': app, 'style.css': style, 'favicon.svg': favicon },
  });
}
