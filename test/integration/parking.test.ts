import { beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../core/services/index.js';
import { canceller, operator, scheduleInput } from './fixtures.js';
import { type FreshServices, servicesOnFreshTables } from './services.js';

/**
 * The park of a waiting execution (Orchestrator.park) and its wake-ups (WakeUps) on DynamoDB Local,
 * with Step Functions recorded: every wake-up is one SendTaskSuccess of the parked token, and the
 * races between a wake-up and the park itself end with the state machine awake.
 */
describe('parking a waiting execution', () => {
  let fresh: FreshServices;
  let made = 0;

  beforeEach(async () => {
    fresh = await servicesOnFreshTables('2026-03-01T09:00:00.000Z');
  });

  const wakeUps = () => fresh.workflow.calledWith('sendTaskSuccess');

  async function schedule(overlapPolicy: string) {
    made += 1;
    return fresh.services.schedules.create(scheduleInput({ name: `Parked ${made}`, overlapPolicy }));
  }

  /** An execution paused at its first stage, Advance having answered `wait`. */
  async function pausedAtStage() {
    const { id } = await schedule('AllowAll');
    const { executionId } = await fresh.services.schedules.run(id, operator);
    expect((await fresh.services.orchestrator.advance(executionId)).action).toBe('run');
    await fresh.services.executions.pause(executionId);
    expect((await fresh.services.orchestrator.advance(executionId)).action).toBe('wait');
    return executionId;
  }

  /** A BufferOne run queued behind an active one, Advance having answered `wait` for it. */
  async function bufferedBehind() {
    const { id } = await schedule('BufferOne');
    const first = (await fresh.services.schedules.run(id, operator)).executionId;
    expect((await fresh.services.orchestrator.advance(first)).action).toBe('run');
    fresh.clock.advance(1000);
    const second = (await fresh.services.schedules.run(id, operator)).executionId;
    expect((await fresh.services.orchestrator.advance(second)).action).toBe('wait');
    return { first, second };
  }

  it('keeps the token of a paused execution and sends it once it is resumed', async () => {
    const executionId = await pausedAtStage();

    await fresh.services.orchestrator.park(executionId, 'token-paused');
    expect(wakeUps()).toEqual([]);
    await fresh.services.executions.resume(executionId);

    expect(wakeUps()).toEqual([['token-paused', { woken: true }]]);
  });

  it('loses no resume that came before the token was stored: the park answers at once', async () => {
    const executionId = await pausedAtStage();
    await fresh.services.executions.resume(executionId);
    expect(wakeUps()).toEqual([]);

    await fresh.services.orchestrator.park(executionId, 'token-late');

    expect(wakeUps()).toEqual([['token-late', { woken: true }]]);
  });

  it('leaves a buffered run parked while the older one runs', async () => {
    const { second } = await bufferedBehind();

    await fresh.services.orchestrator.park(second, 'token-buffered');

    expect(wakeUps()).toEqual([]);
  });

  it.each([
    ['cancelled', (s: Services, id: string) => s.executions.cancelActive(id, canceller)],
    ['failed by a crash', (s: Services, id: string) => s.orchestrator.crash(id, { Error: 'Boom' })],
  ])('wakes the buffered run when the older one is %s', async (_how, end) => {
    const { first, second } = await bufferedBehind();
    await fresh.services.orchestrator.park(second, 'token-buffered');

    await end(fresh.services, first);

    expect(wakeUps()).toEqual([['token-buffered', { woken: true }]]);
    expect((await fresh.services.orchestrator.advance(second)).action).toBe('run');
  });

  it('loses no end of the older run that came before the token was stored', async () => {
    const { first, second } = await bufferedBehind();
    await fresh.services.executions.cancelActive(first, canceller);

    await fresh.services.orchestrator.park(second, 'token-late');

    expect(wakeUps()).toEqual([['token-late', { woken: true }]]);
  });
});
