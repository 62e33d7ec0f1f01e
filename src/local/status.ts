import type { TopologyStatus } from '../observe/status.ts';
import { endpointsOf, type LocalDeployment } from './deployment.ts';
import { readJson } from './fsutil.ts';
import { filesOf } from './layout.ts';
import { isAlive } from './processes.ts';
import { clientTlsOf } from './tls.ts';
import { liveMembers, readRuntime } from './supervisor.ts';
import { addressKey } from '../redis/address.ts';

/** What `http.json` records while a supervisor serves the dashboard. */
export interface HttpRecord {
  readonly pid: number;
  /** `http://127.0.0.1:P/` */
  readonly url: string;
}

/** The dashboard URL of a running deployment, when its supervisor serves one. */
export function servedHttp(d: LocalDeployment): HttpRecord | undefined {
  const record = readJson<HttpRecord>(filesOf(d.stateDir).http);
  return record && isAlive(record.pid) ? record : undefined;
}

/**
 * The `status --json` document (and what the dashboard shows): the status model plus where the
 * deployment lives locally and where it is served.
 */
export function localStatusDocument(d: LocalDeployment, status: TopologyStatus) {
  const runtime = readRuntime(d.stateDir);
  const supervisorPid = runtime && isAlive(runtime.supervisorPid) ? runtime.supervisorPid : undefined;
  const live = liveMembers(d, runtime);
  const endpoints = endpointsOf(d);
  const http = servedHttp(d);
  const tls = clientTlsOf(d);
  return {
    ...status,
    user: d.users.application.username,
    sentinelUser: d.users.sentinelClient.username,
    // Served by the supervisor while it runs: fixed addresses that follow failover.
    endpoints: {
      master: addressKey(endpoints.master),
      replicas: addressKey(endpoints.replicas),
      ...(http ? { dashboard: http.url, metrics: `${http.url}metrics` } : {}),
    },
    stateDir: d.stateDir,
    // Whether every port serves TLS only, and the files a client needs: the CA (always) and a client
    // certificate and key (required only with tls.authClients 'yes').
    tls: tls !== undefined,
    ...(tls ? { tlsFiles: { ca: tls.ca, cert: tls.cert, key: tls.key }, tlsAuthClients: d.spec.tls?.authClients ?? 'optional' } : {}),
    supervisor: { pid: supervisorPid ?? null, running: supervisorPid !== undefined, processes: live.size },
  };
}

export type LocalStatusDocument = ReturnType<typeof localStatusDocument>;
