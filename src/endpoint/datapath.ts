import net from 'node:net';
import { UserError } from '../errors.ts';

/**
 * The endpoint's data path: the bytes of a bound connection, copied both ways between the client's
 * socket and the backend's. Two implementations, one behaviour (order kept, half-close passed on,
 * reads stopped while the other side's kernel buffer is full, both sockets closed on an error):
 *
 * - `handles` (the default where it works): the sockets' libuv TCP handles are driven directly. Every
 *   read of the process lands in one shared 64 KiB buffer (Node would otherwise allocate a fresh one
 *   for each read, its largest cost per chunk); each chunk is copied out (small chunks into Node's
 *   buffer pool) and written straight to the other handle. When the kernel cannot take a write at
 *   once, reads in that direction stop until it completes, so a connection holds at most one chunk per
 *   direction and an idle bound connection holds no buffer at all. A chunk costs one read and one
 *   write system call. On a 2-core machine this halves the proxy's user CPU per request against the
 *   streams path (bench/proxy.ts reports CPU per request), which is what brings the endpoint level
 *   with HAProxy. It uses Node's stream bindings
 *   (`process.binding('tcp_wrap')`, `process.binding('stream_wrap')`), present in the Node 24 this
 *   project ships; they are internal, so their presence is checked once and the streams path is used
 *   when they are missing or changed.
 * - `streams`: `net.Socket` 'data' events and `write()`, pausing on backpressure. Used for TLS sockets
 *   (their handle is not a TCP handle) and wherever the bindings are missing.
 */
export type Datapath = 'handles' | 'streams';

/** The most a read takes at once on the handles data path. */
export const CHUNK_BYTES = 64 * 1024;

const UV_EOF = -4095;

interface StreamHandle {
  onread: (this: StreamHandle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
}
interface WriteReq {
  handle: StreamHandle;
  oncomplete: (status: number) => void;
  buffer?: Uint8Array;
}
interface ShutdownReq {
  handle: StreamHandle;
  oncomplete: (status: number) => void;
}
interface Bindings {
  readonly TCP: abstract new (...args: never[]) => unknown;
  readonly WriteWrap: new () => WriteReq;
  readonly ShutdownWrap: new () => ShutdownReq;
  readonly state: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kLastWriteWasAsync: number;
}

/** Node's stream bindings, or undefined when this Node does not expose them as expected. */
function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    if (typeof binding !== 'function') return undefined;
    const tcp = binding('tcp_wrap');
    const stream = binding('stream_wrap');
    const b = {
      TCP: tcp.TCP,
      WriteWrap: stream.WriteWrap,
      ShutdownWrap: stream.ShutdownWrap,
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kLastWriteWasAsync: stream.kLastWriteWasAsync,
    };
    const proto = (b.TCP as { prototype?: Record<string, unknown> } | undefined)?.prototype;
    const ok =
      typeof b.TCP === 'function' &&
      typeof b.WriteWrap === 'function' &&
      typeof b.ShutdownWrap === 'function' &&
      b.state instanceof Int32Array &&
      typeof b.kReadBytesOrError === 'number' &&
      typeof b.kLastWriteWasAsync === 'number' &&
      ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'shutdown'].every((m) => typeof proto?.[m] === 'function');
    return ok ? (b as unknown as Bindings) : undefined;
  } catch {
    return undefined;
  }
}

const bindings = loadBindings();

/** The fastest data path this Node offers. */
export const fastestDatapath: Datapath = bindings ? 'handles' : 'streams';

/**
 * The data path an endpoint uses: `REDIS_HA_DATAPATH=streams` forces the streams path (a way out,
 * should the handles path misbehave on some Node); otherwise the fastest available.
 */
export function datapathFromEnv(env: NodeJS.ProcessEnv = process.env): Datapath {
  const v = env.REDIS_HA_DATAPATH;
  if (v === undefined || v === '' || v === 'handles') return fastestDatapath;
  if (v === 'streams') return 'streams';
  throw new UserError(`REDIS_HA_DATAPATH: "${v}" is not a data path; use 'streams' or 'handles', or unset it`);
}

function tcpHandleOf(socket: net.Socket): StreamHandle | undefined {
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  return bindings && handle instanceof bindings.TCP ? (handle as StreamHandle) : undefined;
}

/**
 * Copies bytes both ways between a client and the backend it was just connected to, starting with
 * `first` (what the client sent before the backend was dialled), and ends the backend's side at once if
 * the client had already ended. `close` is called on any error and once both directions have ended;
 * the caller destroys both sockets. Returns the data path that carries the connection.
 */
export function splice(client: net.Socket, backend: net.Socket, first: Buffer, clientEnded: boolean, close: () => void, want: Datapath): Datapath {
  const c = want === 'handles' ? tcpHandleOf(client) : undefined;
  const b = want === 'handles' ? tcpHandleOf(backend) : undefined;
  if (c && b && bindings) {
    spliceHandles(bindings, { socket: client, handle: c }, { socket: backend, handle: b }, first, clientEnded, close);
    return 'handles';
  }
  spliceStreams(client, backend, first, clientEnded);
  return 'streams';
}

function spliceStreams(client: net.Socket, backend: net.Socket, first: Buffer, clientEnded: boolean): void {
  pipeStream(client, backend);
  pipeStream(backend, client);
  const more = backend.write(first);
  if (clientEnded) {
    backend.end();
    return;
  }
  if (more) client.resume(); // else the drain handler of pipeStream() resumes it
}

/** Copies `from` into `to`, pausing `from` while `to` cannot take more. */
function pipeStream(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

interface Leg {
  readonly socket: net.Socket;
  readonly handle: StreamHandle;
}

function spliceHandles(n: Bindings, client: Leg, backend: Leg, first: Buffer, clientEnded: boolean, close: () => void): void {
  let over = false;
  const finish = () => {
    if (over) return;
    over = true;
    close();
  };
  // Whatever net.Socket already read and buffered goes first, then the handles are ours: from here on
  // the sockets are only kept to be destroyed (which closes their handles) and for their 'close' events.
  const pending = (s: net.Socket): Buffer[] => {
    s.pause();
    const out: Buffer[] = [];
    for (let chunk: Buffer | null; (chunk = s.read() as Buffer | null) !== null; ) out.push(chunk);
    return out;
  };
  const fromClient = [first, ...pending(client.socket)];
  const fromBackend = pending(backend.socket);
  client.handle.readStop();
  backend.handle.readStop();

  // Once both directions have ended and passed it on, the connection is over.
  let ended = 0;
  const onEnded = () => {
    if (++ended === 2) finish();
  };
  const toBackend = direction(n, client.handle, backend.handle, finish, onEnded);
  const toClient = direction(n, backend.handle, client.handle, finish, onEnded);
  // An end of stream net.Socket had read already is still to be announced by its 'end' event.
  backend.socket.once('end', toClient.end);
  client.socket.once('end', toBackend.end);
  toClient.start(fromBackend, false);
  toBackend.start(fromClient, clientEnded);
}

/**
 * Where every handle of this process reads into. Reads are handled one at a time on the one thread,
 * and each chunk is copied out before the next read, so one buffer serves all connections.
 */
let sharedReadBuffer: Buffer | undefined;

/**
 * One direction of a connection on the handles data path: reads `from` into the shared buffer and
 * writes a copy of each chunk to `to`; passes end-of-stream on as a shutdown of `to`'s sending side.
 */
function direction(n: Bindings, from: StreamHandle, to: StreamHandle, fail: () => void, onEnded: () => void) {
  const buffer = (sharedReadBuffer ??= Buffer.allocUnsafe(CHUNK_BYTES));
  let writing = 0;
  let ended = false;

  const afterWrite = (status: number) => {
    writing--;
    if (status < 0) return fail();
    if (writing === 0 && !ended) from.readStart();
  };
  // A write request object is only taken by a write the kernel could not finish at once; until then
  // one is kept for the next write.
  let spare: WriteReq | undefined;
  const write = (data: Uint8Array): boolean => {
    const req = spare ?? new n.WriteWrap();
    spare = undefined;
    req.handle = to;
    req.oncomplete = afterWrite;
    const err = to.writeBuffer(req, data);
    if (err !== 0) {
      fail();
      return false;
    }
    if (n.state[n.kLastWriteWasAsync] !== 0) {
      req.buffer = data; // held until written
      writing++;
    } else spare = req;
    return true;
  };
  const end = () => {
    if (ended) return;
    ended = true;
    from.readStop();
    const req = new n.ShutdownWrap();
    req.handle = to;
    req.oncomplete = (status) => (status < 0 ? fail() : onEnded());
    if (to.shutdown(req) !== 0) fail();
  };

  from.onread = () => {
    const nread = n.state[n.kReadBytesOrError];
    if (nread > 0) {
      if (!write(Buffer.from(buffer.subarray(0, nread)))) return;
      if (writing > 0) from.readStop(); // no further reads until the other side has taken this chunk
      return;
    }
    if (nread === UV_EOF) end();
    else if (nread < 0) fail();
  };
  from.useUserBuffer(buffer);

  return {
    /** Writes what was read before the handles were taken over, then reads on (or ends). */
    start(before: Uint8Array[], alreadyEnded: boolean): void {
      for (const chunk of before) if (!write(chunk)) return;
      if (alreadyEnded) return end();
      if (writing === 0) from.readStart();
    },
    /** End-of-stream that net.Socket read before the handles were taken over. */
    end,
  };
}
