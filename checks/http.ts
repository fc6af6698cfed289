// HTTP check: a fresh connection per check (undici only for the opt-in keepalive); status codes, body pattern or digest; no redirects.
import type { CheckPlugin } from '../src/health/check.js';
import { httpOptions, probeHttp, type HttpCheckOptions } from './lib/http-probe.js';

export const plugin: CheckPlugin<HttpCheckOptions> = {
  type: 'http',
  description: 'HTTP request (method, path, Host, headers); up when the status is expected and the body matches expect_body/digest',
  options: httpOptions,
  run: (target, options, signal) => probeHttp(target, options, signal, false),
};
