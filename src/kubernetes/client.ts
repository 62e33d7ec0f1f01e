/**
 * A small REST client over @kubernetes/client-node's KubeConfig (kubeconfig files, in-cluster
 * ServiceAccount, exec/OIDC plugins: all of its authenticators). Requests go to explicit paths, which
 * keeps server-side apply (`application/apply-patch+yaml`, `fieldManager`, `force`) and the status
 * subresource plain to read; the generated typed clients would hide both behind per-kind methods.
 */
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { UserError } from '../errors.ts';

/** An API server answer other than 2xx; `status` is the HTTP code (404, 409, 410, 422, ...). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const PATCH = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

export interface RequestOptions {
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly timeoutMs?: number;
  readonly accept?: string;
}

/**
 * Loads a kubeconfig: `file` when given, else $KUBECONFIG / ~/.kube/config, else the in-cluster
 * ServiceAccount. Throws UserError naming the fix when none is usable.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new UserError(`cannot read the kubeconfig${file ? ` ${file}` : ''}: ${(err as Error).message}; pass --kubeconfig FILE or set KUBECONFIG`);
  }
  if (!kc.getCurrentCluster()) throw new UserError('no Kubernetes cluster configured: pass --kubeconfig FILE, set KUBECONFIG, or run inside a cluster');
  return kc;
}

/** The namespace of the kubeconfig's current context, else `default`. */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.server = kc.getCurrentCluster()!.server.replace(/\/$/, '');
  }

  /** The library's watch (a streaming GET with `watch=true`) on the same credentials. */
  watcher(): Watch {
    return new Watch(this.kc);
  }

  /** One request; resolves with the parsed JSON body, rejects with KubeApiError (or a network error). */
  async request<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: import('node:https').RequestOptions = { method, headers: { Accept: o.accept ?? 'application/json' }, timeout: o.timeoutMs ?? 30_000 };
    await this.kc.applyToHTTPSOptions(opts);
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    if (body !== undefined) {
      (opts.headers as Record<string, string>)['Content-Type'] = o.contentType ?? 'application/json';
      (opts.headers as Record<string, string>)['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise<T>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? plainRequest : request)(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(parsed as T);
          else reject(new KubeApiError(code, parsed?.reason ?? '', `${method} ${path}: ${code} ${parsed?.message ?? text.slice(0, 300)}`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeout} ms`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  get<T = any>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** GET that resolves undefined on 404. */
  async find<T = any>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Server-side apply of a whole object under `fieldManager`, taking ownership of conflicting fields. */
  apply<T = any>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', path, { body: object, contentType: PATCH.apply, query: { fieldManager, force: true } });
  }
}

/** True for errors worth retrying later (network, 409 conflict, 429, 5xx); false for 4xx the input causes. */
export function transient(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return true;
  return err.status === 409 || err.status === 429 || err.status >= 500;
}
