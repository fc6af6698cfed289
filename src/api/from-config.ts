import { parseListenAddress } from './listen.js';
import type { ApiConfig } from './server.js';

/**
 * The parsed `api:` section → ApiConfig. `listen` is the Unix socket path, or a
 * loopback HOST:PORT (then no socket is created); `metrics` is HOST:PORT or false.
 */
export function apiFromConfig(api: { listen?: string; metrics?: string | false; admin_over_tcp?: boolean }): ApiConfig {
  const listen = parseListenAddress(api.listen ?? '/run/failoverd/failoverd.sock');
  return {
    socket: listen.kind === 'unix' ? listen.path : false,
    ...(listen.kind === 'tcp' ? { loopback: api.listen! } : {}),
    ...(listen.kind === 'tcp' && api.admin_over_tcp ? { adminOverTcp: true } : {}),
    ...(api.metrics ? { metrics: api.metrics } : {}),
  };
}
