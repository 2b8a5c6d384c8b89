import { type FromLoops, runLoops, type ToLoops } from './worker-loops.js';

/**
 * The child process of phase (b)'s worker loops (see worker-loops.ts): loaded, started, and on `stop`
 * it answers what the loops saw and exits (their abandoned keep-alive sockets would hold it open).
 */
const send = (message: FromLoops, then: () => void = () => {}) => process.send?.(message, then);
let running: ReturnType<typeof runLoops> | undefined;
process.on('message', async (message: ToLoops) => {
  if (message.type === 'start') running = runLoops(message.settings);
  else if (running) send({ type: 'stopped', result: await running.stop() }, () => process.exit(0));
});
send({ type: 'loaded' });
