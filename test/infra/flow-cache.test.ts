import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesizeFlow, synthesizeFlowCached } from '../../infra/local/definition.js';
import { parseConfig } from '../../shared/config/load.js';

describe('the synthesized workflow, cached between starts', () => {
  it('is synthesized once, read back while config and sources are unchanged, and synthesized afresh when the config changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinebridge-flow-cache-'));
    const config = parseConfig({});

    const first = await synthesizeFlowCached(config, dir);

    expect(first).toEqual(await synthesizeFlow(config));
    const [entry] = readdirSync(dir);
    expect(readdirSync(dir)).toHaveLength(1);
    // Marked, to tell a read of the cache from a second synthesis.
    const path = join(dir, entry as string);
    const marked = { ...JSON.parse(readFileSync(path, 'utf8')), marker: 'from the cache' };
    writeFileSync(path, JSON.stringify(marked));
    expect(await synthesizeFlowCached(config, dir)).toEqual(marked);

    const other = parseConfig({ risk: { maxPositionQuantity: 7 } });
    const fresh = await synthesizeFlowCached(other, dir);

    expect(fresh).toEqual(await synthesizeFlow(other));
    // Only the entry in use is kept.
    expect(readdirSync(dir)).toHaveLength(1);
    expect(readdirSync(dir)).not.toContain(entry);
  }, 60_000);
});
