/**
 * The HTTP side of observing a deployment: the dashboard (static files shipped beside this module, no
 * CDN, no build step), `/metrics` for Prometheus, `/api/status` and `/api/timeline` as JSON, a
 * Server-Sent Events stream (`/api/events`) that pushes the status every second and each timeline line
 * as it happens, and `POST /api/switchover`.
 *
 * Runtime-agnostic: the runtime hands in how to read the status and how to switch over. Changing the
 * topology is the runtime's function; this module only guards the door. Against cross-site requests
 * (a page on another site, or DNS rebinding, driving the switchover button from the user's browser):
 * every request must carry a loopback `Host` when bound to loopback; a switchover must be a POST with
 * `Content-Type: application/json` (never a "simple" cross-site request), the per-process token the page
 * embeds (in `X-Redis-HA-Token`), and, when the browser sends them, an `Origin` equal to this server
 * and `Sec-Fetch-Site: same-origin`. Pages may not be framed (clickjacking).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TopologyMetrics } from './metrics.ts';
import type { TopologyStatus } from './status.ts';
import type { Timeline } from './timeline.ts';
import { PROJECT_ROOT } from '../root.ts';

/** What the dashboard shows: the status model, plus whatever the runtime adds (endpoints, state dir, ...). */
export type StatusDocument = TopologyStatus;

export interface DashboardSource {
  /** A fresh status; called at most once per `STATUS_MAX_AGE_MS` however many viewers and scrapers there are. */
  status(): Promise<StatusDocument>;
  readonly metrics: TopologyMetrics;
  readonly timeline: Timeline;
  /**
   * A planned switchover to node `to` (an id; undefined: the best replica). Resolves with a one-line
   * result, rejects with a one-line reason. Absent: the dashboard shows no button.
   */
  switchover?(to: string | undefined): Promise<string>;
}

export interface DashboardServerOptions {
  readonly host: string;
  readonly port: number;
  readonly source: DashboardSource;
  /** How often viewers get the status pushed. */
  readonly pushMs?: number;
}

export interface DashboardServer {
  /** `http://host:port/` */
  readonly url: string;
  close(): Promise<void>;
}

const STATUS_MAX_AGE_MS = 500;
const DASHBOARD_FILES = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
} as const;
const TOKEN_PLACEHOLDER = '__REDIS_HA_TOKEN__';
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}

function readDashboardFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const { file } of Object.values(DASHBOARD_FILES)) {
    // From the sources, also when this module runs compiled from dist/.
    files.set(file, readFileSync(join(PROJECT_ROOT, 'src', 'observe', 'dashboard', file), 'utf8'));
  }
  return files;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  send(res, code, 'application/json; charset=utf-8', JSON.stringify(value));
}

async function readBody(req: IncomingMessage, limit = 4096): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('request body too large');
  }
  return body;
}

/** Host check against DNS rebinding: a server on loopback answers only to loopback names with its port. */
function hostAllowed(req: IncomingMessage, host: string, port: number): boolean {
  if (!isLoopback(host)) return true;
  const given = req.headers.host ?? '';
  return LOOPBACK_NAMES.some((name) => given === `${name}:${port}`);
}

/** Why a switchover request is refused (cross-origin or cross-site, not JSON, no page token), or undefined. */
function switchoverRefusal(req: IncomingMessage, token: string): string | undefined {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return `cross-origin request refused (Origin ${origin})`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused (Sec-Fetch-Site ${site})`;
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return 'the request must be application/json';
  if (!sameToken(req.headers['x-redis-ha-token'] as string | undefined, token)) return 'missing or wrong X-Redis-HA-Token; reload the dashboard';
  return undefined;
}

/**
 * The status viewers see: one status per `STATUS_MAX_AGE_MS` shared by every viewer and scrape, pushed
 * to the open event streams on a timer and at once after a failover, repair or switchover.
 */
class StatusFeed {
  readonly #source: DashboardSource;
  readonly #viewers = new Set<ServerResponse>();
  readonly #unsubscribe: () => void;
  #cached?: { at: number; doc: Promise<StatusDocument> };
  #timer?: NodeJS.Timeout;

  constructor(source: DashboardSource) {
    this.#source = source;
    this.#unsubscribe = source.timeline.subscribe((entry) => {
      this.#broadcast('timeline', entry);
      // A failover or repair changes what the topology looks like: show it now, not at the next tick.
      if (entry.kind === 'failover' || entry.kind === 'repair' || entry.kind === 'switchover') setTimeout(() => void this.push(), 50);
    });
  }

  status(): Promise<StatusDocument> {
    if (!this.#cached || Date.now() - this.#cached.at > STATUS_MAX_AGE_MS) {
      const doc = this.#source.status();
      this.#cached = { at: Date.now(), doc };
      doc.catch(() => (this.#cached = undefined));
    }
    return this.#cached.doc;
  }

  #broadcast(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const v of this.#viewers) v.write(frame);
  }

  async push(): Promise<void> {
    try {
      this.#broadcast('status', await this.status());
    } catch (err) {
      this.#broadcast('problem', { message: (err as Error).message });
    }
  }

  /** An event stream: the timeline so far, then the status and every change. */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    res.write(`event: hello\ndata: ${JSON.stringify({ timeline: this.#source.timeline.entries() })}\n\n`);
    this.#viewers.add(res);
    req.on('close', () => this.#viewers.delete(res));
    void this.status().then((doc) => res.write(`event: status\ndata: ${JSON.stringify(doc)}\n\n`), () => {});
  }

  start(pushMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#viewers.size > 0) void this.push();
    }, pushMs);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
    for (const v of this.#viewers) v.end();
    this.#viewers.clear();
  }
}

/** `POST /api/switchover`: guarded by `switchoverRefusal`, one at a time, the result or reason as JSON. */
function switchoverHandler(source: DashboardSource, token: string, feed: StatusFeed): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let switching = false;
  return async (req, res) => {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' });
    const refusal = switchoverRefusal(req, token);
    if (refusal) return sendJson(res, 403, { error: refusal });
    if (!source.switchover) return sendJson(res, 404, { error: 'this runtime offers no switchover' });
    let to: string | undefined;
    try {
      const body = JSON.parse((await readBody(req)) || '{}') as { to?: unknown };
      if (body.to !== undefined && body.to !== null && body.to !== '' && typeof body.to !== 'string') throw new Error('"to" must be a node id');
      to = body.to ? (body.to as string) : undefined;
    } catch (err) {
      return sendJson(res, 400, { error: (err as Error).message });
    }
    if (switching) return sendJson(res, 409, { error: 'a switchover is already running' });
    switching = true;
    try {
      return sendJson(res, 200, { result: await source.switchover(to) });
    } catch (err) {
      return sendJson(res, 409, { error: (err as Error).message });
    } finally {
      switching = false;
      void feed.push();
    }
  };
}

/**
 * Starts the server. Fails (EADDRINUSE, ...) like `listen` does; the caller decides whether that stops
 * it.
 * @example
 * const server = await startDashboardServer({ host: '127.0.0.1', port: 6422, source });
 * console.log(server.url); // http://127.0.0.1:6422/
 */
export async function startDashboardServer(o: DashboardServerOptions): Promise<DashboardServer> {
  const files = readDashboardFiles();
  const token = randomBytes(24).toString('base64url');
  const page = (files.get('index.html') ?? '').replace(TOKEN_PLACEHOLDER, token).replace('__REDIS_HA_SWITCHOVER__', o.source.switchover ? 'on' : 'off');
  const feed = new StatusFeed(o.source);
  const switchover = switchoverHandler(o.source, token, feed);

  const handle = async (req: IncomingMessage, res: ServerResponse, port: number): Promise<void> => {
    if (!hostAllowed(req, o.host, port)) return send(res, 403, 'text/plain', `Host ${req.headers.host ?? '(none)'} refused: use http://${o.host}:${port}/\n`);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/api/switchover') return switchover(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'use GET\n');
    if (path in DASHBOARD_FILES) {
      const { file, type } = DASHBOARD_FILES[path as keyof typeof DASHBOARD_FILES];
      return send(res, 200, type, file === 'index.html' ? page : (files.get(file) ?? ''));
    }
    switch (path) {
      case '/favicon.ico':
        res.writeHead(204, SECURITY_HEADERS);
        return void res.end();
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/metrics':
        o.source.metrics.update(await feed.status());
        return send(res, 200, o.source.metrics.contentType, await o.source.metrics.text());
      case '/api/status':
        return sendJson(res, 200, await feed.status());
      case '/api/timeline':
        return sendJson(res, 200, o.source.timeline.entries(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after') ?? 0)));
      case '/api/events':
        return feed.open(req, res);
      default:
        return send(res, 404, 'text/plain', 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    handle(req, res, port).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  feed.start(o.pushMs ?? 1000);
  const port = (server.address() as AddressInfo).port;
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shownHost}:${port}/`,
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
