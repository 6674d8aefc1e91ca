#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// `npx pinebridge …` from the project folder: runs the TypeScript CLI through tsx (a dev dependency
// of the clone), on the Node 22 that the node@22 dev dependency puts first on npm's PATH.
import { register } from 'tsx/esm/api';

register();
process.env.PINEBRIDGE_CLI_ENTRY = '1';
await import('./main.ts');
