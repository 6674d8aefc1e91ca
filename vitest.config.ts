import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // node:sqlite (the local store) is stable in use but still flagged experimental in Node 22.
    execArgv: ['--disable-warning=ExperimentalWarning'],
    // The JSON report lets CI print one plain closing line ("N passed, N failed").
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
    // Quiet by default; tests that check what is logged raise the level themselves.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});
