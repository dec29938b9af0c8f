#!/usr/bin/env node
// Entry point of the `chatops` command. The sources are TypeScript; tsx compiles them on load
// so there is no separate build step between `npm ci` and `npm start`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
