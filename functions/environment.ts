import { createDocumentClient } from '../core/adapters/dynamodb/client.js';
import { TABLE_ENV, type TableKey, type TableNames } from '../core/adapters/dynamodb/tables.js';
import { createServices, type Services } from '../core/services/index.js';

/** Table names from the environment the stack (or the local runtime) gives each function. */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  const names = {} as TableNames;
  for (const [table, variable] of Object.entries(TABLE_ENV) as [TableKey, string][]) {
    const value = env[variable];
    if (!value) throw new Error(`Environment variable ${variable} (the ${table} table name) is not set.`);
    names[table] = value;
  }
  return names;
}

let services: Services | undefined;

/** Services built once per Lambda environment (module scope outlives invocations), on first use. */
export function getServices(): Services {
  services ??= createServices(createDocumentClient(), tableNamesFromEnv());
  return services;
}
