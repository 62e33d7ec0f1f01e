import { createServer } from 'node:net';
import { UserError } from '../errors.ts';
import { PORTS_PER_DEPLOYMENT } from './layout.ts';

/** Resolves true when nothing listens on host:port (we could bind it). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws one clear message naming the first busy port and what would have used it. */
export async function assertPortsFree(wanted: readonly { host: string; port: number; use: string }[]): Promise<void> {
  for (const w of wanted) {
    if (w.port < 1 || w.port > 65535) throw new UserError(`port ${w.port} for ${w.use} is out of range; pick a --port-base between 1024 and ${65535 - PORTS_PER_DEPLOYMENT}`);
    if (!(await isPortFree(w.host, w.port))) {
      throw new UserError(`port ${w.port} on ${w.host} is already in use (wanted for ${w.use}); stop what listens there or pass another --port-base`);
    }
  }
}

/** Resolves once nothing listens on any of the ports, or false after `timeoutMs`. */
export async function waitPortsFree(ports: readonly { host: string; port: number }[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = [];
    for (const p of ports) if (!(await isPortFree(p.host, p.port))) busy.push(p);
    if (busy.length === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
