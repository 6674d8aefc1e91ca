import { Logger } from '@aws-lambda-powertools/logger';

/** One logger per process. Callers log ids and codes, never request bodies or secrets. */
export const logger = new Logger({ serviceName: 'pinebridge' });
