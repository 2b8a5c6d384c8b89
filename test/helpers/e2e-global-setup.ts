import type { TestProject } from 'vitest/node';
import buildConsole from './console-build-setup.js';
import { type FunctionGrants, functionGrants } from './function-grants.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Each function's IAM statements in the synthesized stack (see sdk-calls.ts). */
    functionGrants: FunctionGrants;
  }
}

/** The e2e suite checks every AWS call a function makes against its grants: synthesized once here. */
export default function setup(project: TestProject): void {
  // The stack deploys the built console, so the synth needs it.
  buildConsole();
  project.provide('functionGrants', functionGrants());
}
