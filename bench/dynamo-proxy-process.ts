import { type FromProxy, type ProxyServer, serveCountingProxy, type ToProxy } from './dynamo-proxy.js';

/** The child process of the counting proxy (see dynamo-proxy.ts): serves it and answers its records. */
const send = (message: FromProxy) => process.send?.(message);
let server: ProxyServer | undefined;
process.on('message', async (message: ToProxy) => {
  if (message.type === 'start') {
    server = await serveCountingProxy(message.upstream, message.options);
    send({ type: 'listening', endpoint: server.endpoint });
  } else if (message.type === 'take') send({ type: 'take', id: message.id, calls: server?.take() ?? [] });
  else send({ type: 'writeLog', id: message.id, writes: [...(server?.writeLog() ?? [])] });
});
process.once('SIGTERM', async () => {
  await server?.stop();
  process.exit(0);
});
// The parent gone (it crashed, or forgot to stop it): nothing is left to measure.
process.once('disconnect', () => process.exit(0));
