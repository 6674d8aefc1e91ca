import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../shared/config/load.js';

/** Writes config.schema.json from the zod schema so editors complete and check config.json. */
writeFileSync('config.schema.json', `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log('wrote config.schema.json');
