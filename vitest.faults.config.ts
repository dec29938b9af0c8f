import { defineConfig } from 'vitest/config';
import { TEST_GIT_ENV } from './test/support/git-env.js';

/**
 * `npm run test:faults`: the long fault runs (a bot killed with -9 and started again, platform
 * outages of minutes, a second process on the same data folder). Each drives real processes, so
 * they live apart from `npm test`; `.ci/run` runs both.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests never read the developer's git config (test/support/git-env.ts).
    env: { ...TEST_GIT_ENV },
    maxWorkers: 2,
    reporters: ['default'],
  },
});
