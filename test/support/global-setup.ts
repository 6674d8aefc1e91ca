import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

/** One in-memory DynamoDB Local for the whole run; each test file creates its own tables. */
export default async function setup(project: TestProject) {
  const db = await startDynamoDbLocal(undefined);
  project.provide('dynamoEndpoint', db.endpoint);
  return () => db.stop();
}
