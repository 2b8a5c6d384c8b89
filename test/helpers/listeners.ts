import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The TCP sockets listening on this machine, read from /proc (Linux), as `ss -ltnp` shows them: so
 * a test can name every port a process tree opened and on which address.
 */

export interface Listener {
  /** `127.0.0.1`, `0.0.0.0`, or IPv6 uncompressed (`0:0:0:0:0:0:0:1`). */
  readonly address: string;
  readonly port: number;
  /** Only this machine can connect (127.0.0.0/8, ::1, ::ffff:127.x). */
  readonly loopback: boolean;
  readonly pid: number;
  /** The process's command line (`/proc/<pid>/cmdline`), arguments joined by spaces. */
  readonly commandLine: string;
}

const LISTEN = '0A';

/** Four bytes of /proc/net/tcp's hex, which the kernel prints in host (little-endian) order. */
const wordBytes = (hex: string): number[] =>
  [6, 4, 2, 0].map((offset) => Number.parseInt(hex.slice(offset, offset + 2), 16));

function decodeAddress(hex: string): { address: string; loopback: boolean } {
  if (hex.length === 8) {
    const bytes = wordBytes(hex);
    return { address: bytes.join('.'), loopback: bytes[0] === 127 };
  }
  const bytes = [0, 8, 16, 24].flatMap((offset) => wordBytes(hex.slice(offset, offset + 8)));
  const groups = Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number)).toString(16),
  );
  const mappedV4 = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
  const isLoopbackV6 = groups.slice(0, 7).every((g) => g === '0') && groups[7] === '1';
  return { address: groups.join(':'), loopback: isLoopbackV6 || (mappedV4 && bytes[12] === 127) };
}

/** Socket inode → listening address, from /proc/net/tcp and tcp6. */
function listeningSockets(): Map<string, { address: string; port: number; loopback: boolean }> {
  const sockets = new Map<string, { address: string; port: number; loopback: boolean }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== LISTEN) continue;
      const [hexAddress, hexPort] = (fields[1] as string).split(':') as [string, string];
      sockets.set(fields[9] as string, { ...decodeAddress(hexAddress), port: Number.parseInt(hexPort, 16) });
    }
  }
  return sockets;
}

/** `root` and every process descended from it. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name, in parentheses, may hold spaces: the parent pid is the second field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i] as number) ?? []));
  return tree;
}

/** Every TCP socket the given processes listen on. */
export function listenersOf(pids: readonly number[]): Listener[] {
  const sockets = listeningSockets();
  const found: Listener[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const socket = inode ? sockets.get(inode) : undefined;
      if (socket) found.push({ ...socket, pid, commandLine });
    }
  }
  return found;
}

/** Every TCP socket of the machine listening on `port`, whoever owns it. */
export function listenersOnPort(port: number): { address: string; loopback: boolean }[] {
  return [...listeningSockets().values()].filter((socket) => socket.port === port);
}
