import type { TestProject } from 'vitest/node';
import { type DynamoConnection, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The suite's DynamoDB Local database (its endpoint and secret access key id). */
    dynamo: DynamoConnection;
    /** Superuser URL of the suite's PostgreSQL server. */
    postgresUrl: string;
  }
}

/**
 * One in-memory DynamoDB Local and one PostgreSQL server for the whole integration suite; each file
 * makes its own tables and its own database.
 */
export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  const postgres = await startPostgres().catch(async (error: unknown) => {
    await dynamo.stop();
    throw error;
  });
  project.provide('dynamo', dynamo.connection);
  project.provide('postgresUrl', postgres.connectionString);
  return async () => {
    await Promise.all([dynamo.stop(), postgres.stop()]);
  };
}
