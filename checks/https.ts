// HTTPS check: the HTTP check over TLS, with SNI, certificate verification on/off and a CA file.
import type { CheckPlugin } from '../src/health/check.js';
import { httpsOptions, probeHttp, type HttpsCheckOptions } from './lib/http-probe.js';

export const plugin: CheckPlugin<HttpsCheckOptions> = {
  type: 'https',
  description: 'HTTP over TLS; tls_verify, ca_file and tls_server_name control certificate checking',
  options: httpsOptions,
  run: (target, options, signal) => probeHttp(target, options, signal, true),
};
