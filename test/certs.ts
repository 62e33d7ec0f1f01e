/**
 * A CA and a certificate signed by it, as PEM text, for tests of TLS on Kubernetes: made by the same
 * code as a local deployment's (`issueCertificates` in src/local/tls.ts: P-256, serverAuth and
 * clientAuth, SANs for `hosts`), in a temporary directory removed before returning.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificates, tlsFilesOf } from '../src/local/tls.ts';

export interface TestCertificate {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A fresh CA and a leaf certificate naming `hosts` (plus 127.0.0.1, ::1 and localhost). */
export function makeCertificate(hosts: readonly string[]): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'redis-ha-certs-'));
  try {
    issueCertificates({ stateDir: dir, spec: { name: 'test' }, nodes: hosts.map((host) => ({ host })), sentinels: [] });
    const f = tlsFilesOf(dir);
    return { caPem: readFileSync(f.ca, 'utf8'), certPem: readFileSync(f.cert, 'utf8'), keyPem: readFileSync(f.key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificate as a Secret's `data` (base64), the shape cert-manager writes: tls.crt, tls.key, ca.crt. */
export function secretData(c: TestCertificate): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return { 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem), 'ca.crt': b64(c.caPem) };
}
