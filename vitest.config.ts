import { defineConfig } from 'vitest/config';

/**
 * Six suites: unit (no network), integration (a real DynamoDB Local and a real PostgreSQL, both
 * started once by its globalSetup),
 * e2e (the whole local stack over HTTP, one per file), faults (the local stack killed, its worker
 * killed, cancels racing completions), both checking each AWS call a function makes against its IAM
 * grants in the synthesized stack (test/helpers/sdk-calls.ts), infra (the CDK template and cdk-nag) and browser (the operator
 * console in Chromium against `npm start`).
 */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/integration-global-setup.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Every AWS call a function makes is checked against its IAM grants (sdk-calls.ts).
          globalSetup: ['test/helpers/e2e-global-setup.ts'],
          setupFiles: ['test/helpers/sdk-calls.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/helpers/e2e-global-setup.ts'],
          setupFiles: ['test/helpers/sdk-calls.ts'],
          // Its files mostly wait (heartbeat deadlines, the reconciler's minute), so they run side by
          // side even on two cores: one after another they take over four minutes.
          maxWorkers: 3,
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          // The stack deploys the built console: build it once when it is missing.
          globalSetup: ['test/helpers/console-build-setup.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
