import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the local HTTP servers share: reading a request body, listening on loopback, closing.
 */

/**
 * The body of a request (or of a client's response). With `maxBytes`: 'too-large' as soon as the body passes it; nothing past the
 * limit is buffered, and the stream is left open for the caller to answer and drain.
 */
export function readBody(request: IncomingMessage): Promise<Buffer>;
export function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'>;
export function readBody(request: IncomingMessage, maxBytes = Infinity): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      request.off('data', onData).off('end', onEnd);
      resolve('too-large');
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    request.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

/** Listens on 127.0.0.1 (a free port when 0); resolves with the port once it listens. */
export async function listenOnLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the server, open connections included. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
