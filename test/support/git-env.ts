/**
 * The git environment of every test: no developer's global (`~/.gitconfig`) or system config.
 * vitest.config.ts and vitest.faults.config.ts put it into every test process's environment, so
 * the bot's in-process simple-git, the fixtures' git and every spawned bot, agent and CLI
 * inherit it; the helpers that build an environment of their own add it too.
 */
export const TEST_GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } as const;
