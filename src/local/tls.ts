/**
 * TLS of a local deployment: a CA of its own and the certificates it signs, kept in `<stateDir>/tls/`
 * (0700; keys 0600), and the redis.conf / sentinel.conf lines that use them.
 *
 * One server certificate serves every node and Sentinel: its SANs name 127.0.0.1, ::1, localhost and
 * every member's host. It is also the certificate nodes and Sentinels present as clients (replication,
 * Sentinel links), so it carries both serverAuth and clientAuth. redis-ha's own clients (controller,
 * probes, the endpoints' checks, the CLI, benchmarks) present the client certificate.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { tlsEnabled } from '../spec/index.ts';
import type { TlsFiles } from '../redis/connect.ts';
import { privateDir, writePrivateFile } from './fsutil.ts';

/** The TLS files of a deployment, all below `<stateDir>/tls/`. */
export function tlsFilesOf(stateDir: string) {
  const dir = join(stateDir, 'tls');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

/** How redis-ha's own clients reach a TLS deployment (CA + client certificate), or undefined without TLS. */
export function clientTlsOf(d: { readonly stateDir: string; readonly spec: { readonly tls?: { readonly enabled: boolean } } }): TlsFiles | undefined {
  if (!tlsEnabled(d.spec)) return undefined;
  const f = tlsFilesOf(d.stateDir);
  return { ca: f.ca, cert: f.clientCert, key: f.clientKey };
}

const CA_DAYS = 3650;
const LEAF_DAYS = 825;

function openssl(args: string[], what: string): void {
  let r;
  try {
    r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  } catch (err) {
    throw new UserError(`cannot run openssl to make the ${what} (${(err as Error).message}); install it (Debian: apt-get install openssl)`);
  }
  if (r.error) throw new UserError(`cannot run openssl to make the ${what} (${r.error.message}); install it (Debian: apt-get install openssl)`);
  if (r.status !== 0) throw new UserError(`openssl failed to make the ${what}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}; check that openssl 3 is installed`);
}

/** A fresh P-256 key, written 0600 by us (never by openssl, whose umask would decide its mode). */
function writeKey(path: string): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writePrivateFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** `subjectAltName` for the hosts: IP addresses as `IP:`, names as `DNS:`. */
export function subjectAltName(hosts: readonly string[]): string {
  const all = [...new Set(['127.0.0.1', '::1', 'localhost', ...hosts])];
  return all.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
}

/**
 * Makes the deployment's certificates. The CA is made once and kept (clients that trust it keep
 * working across runs); the server and client certificates are issued afresh on every fresh start,
 * so their SANs always name the members' current hosts.
 */
export function issueCertificates(d: { readonly stateDir: string; readonly spec: { readonly name: string }; readonly nodes: readonly { host: string }[]; readonly sentinels: readonly { host: string }[] }): void {
  const f = tlsFilesOf(d.stateDir);
  privateDir(f.dir);
  const name = d.spec.name;
  if (!existsSync(f.ca) || !existsSync(f.caKey)) {
    writeKey(f.caKey);
    openssl(
      ['req', '-x509', '-new', '-key', f.caKey, '-sha256', '-days', String(CA_DAYS), '-subj', `/O=redis-ha/CN=redis-ha ${name} CA`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f.ca],
      'CA certificate',
    );
  }
  const hosts = [...d.nodes, ...d.sentinels].map((m) => m.host);
  const leaf = (key: string, cert: string, cn: string, extensions: string[], what: string) => {
    writeKey(key);
    openssl(
      ['req', '-x509', '-new', '-key', key, '-CA', f.ca, '-CAkey', f.caKey, '-sha256', '-days', String(LEAF_DAYS), '-subj', `/O=redis-ha/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
        ...extensions.flatMap((e) => ['-addext', e]), '-out', cert],
      what,
    );
  };
  leaf(f.key, f.cert, `redis-ha-${name}`, [`subjectAltName=${subjectAltName(hosts)}`, 'extendedKeyUsage=serverAuth,clientAuth'], 'server certificate');
  leaf(f.clientKey, f.clientCert, `redis-ha-${name}-client`, ['extendedKeyUsage=clientAuth'], 'client certificate');
}
