import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the suite's PostgreSQL server. */
    postgresUrl: string;
  }
}

/** One PostgreSQL server for the whole integration suite; each test file makes its own database. */
export default async function setup(project: TestProject) {
  const postgres = await startPostgres();
  project.provide('postgresUrl', postgres.connectionString);
  return () => postgres.stop();
}
