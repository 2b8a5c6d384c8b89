import { z } from 'zod';
import { getServices } from './environment.js';
import { logger } from './logger.js';
import { withPowertools } from './middleware.js';

/** The state machine's task states call this function; `action` names the decision wanted. */
const StateError = z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough();
const OrchestratorEvent = z.discriminatedUnion('action', [
  z.object({ action: z.literal('advance'), executionId: z.string() }),
  z.object({
    action: z.literal('enqueueStep'),
    executionId: z.string(),
    ordinal: z.number(),
    taskToken: z.string(),
    // RunSingleStep's: the completion carries the next move (a run started before it had none),
    // and hands the token on until its timeout (a run started before it had no backstopSeconds).
    decidesNext: z.boolean().default(false),
    backstopSeconds: z.number().int().positive().optional(),
    // The step's pool, from the move (a run started before it had none: the step is read for it).
    pool: z.string().optional(),
  }),
  z.object({ action: z.literal('park'), executionId: z.string(), taskToken: z.string() }),
  z.object({
    action: z.literal('stepFailed'),
    executionId: z.string(),
    ordinal: z.number(),
    error: StateError,
    // SingleStepFailed's: the token may have been handed on to a later step (Orchestrator.stepFailed).
    handedOn: z.boolean().default(false),
  }),
  z.object({ action: z.literal('crash'), executionId: z.string(), error: StateError }),
]);

async function orchestrate(event: unknown): Promise<unknown> {
  const request = OrchestratorEvent.parse(event);
  const { orchestrator } = getServices();
  logger.appendKeys({ executionId: request.executionId, action: request.action });
  switch (request.action) {
    case 'advance':
      return orchestrator.advance(request.executionId);
    case 'enqueueStep':
      await orchestrator.enqueueStep(request.executionId, request.ordinal, request.taskToken, {
        decidesNext: request.decidesNext,
        backstopSeconds: request.backstopSeconds,
        pool: request.pool,
      });
      return {};
    case 'park':
      await orchestrator.park(request.executionId, request.taskToken);
      return {};
    case 'stepFailed':
      await orchestrator.stepFailed(request.executionId, request.ordinal, request.error, request.handedOn);
      return {};
    case 'crash':
      logger.error('Execution crashed', { error: request.error });
      await orchestrator.crash(request.executionId, request.error);
      return {};
  }
}

export const handler = withPowertools(orchestrate);
