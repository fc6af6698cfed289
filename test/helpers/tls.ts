// A throwaway self-signed certificate for test servers (https, STARTTLS).
import { join } from 'node:path';
import { sh } from './shell.js';

/** Writes DIR/key.pem and DIR/cert.pem for CN=NAME, with the given subjectAltName entries (e.g. "DNS:x", "IP:10.0.0.1"). */
export function selfSignedCertificate(dir: string, name: string, altNames: readonly string[]): void {
  sh([
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-addext',
    `subjectAltName=${altNames.join(',')}`,
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
}
