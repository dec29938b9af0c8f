import { defineConfig } from 'vitest/config';
import { TEST_GIT_ENV } from './test/support/git-env.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long fault runs are `npm run test:faults` (vitest.faults.config.ts).
    exclude: ['test/faults/**', 'node_modules/**'],
    // Tests spawn real pi processes, git and SQLite; give them room but never sleep.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests never read the developer's git config (test/support/git-env.ts).
    env: { ...TEST_GIT_ENV },
    // Two cores: keep process-heavy files from starving each other.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
