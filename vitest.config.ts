import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Quiet by default; tests that check what is logged raise the level themselves.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});
