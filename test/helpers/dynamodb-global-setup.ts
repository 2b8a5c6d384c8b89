import type { TestProject } from 'vitest/node';
import { type DynamoConnection, startDynamoDbLocal } from '../../local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's DynamoDB Local database (its endpoint and secret access key id). */
    dynamo: DynamoConnection;
  }
}

/** One in-memory DynamoDB Local for the whole integration suite; each file makes its own tables. */
export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  project.provide('dynamo', dynamo.connection);
  return () => dynamo.stop();
}
