import type { ApiConfig } from './server.js';

/**
 * The parsed `api:` section → ApiConfig. `listen` is the Unix socket path, or a
 * loopback HOST:PORT (then no socket is created); `metrics` is HOST:PORT or false.
 */
export function apiFromConfig(api: { listen?: string; metrics?: string | false; loopback?: string }): ApiConfig {
  const listen = api.listen ?? '/run/failoverd/failoverd.sock';
  const isSocket = listen.startsWith('/') || listen.startsWith('unix:');
  return {
    socket: isSocket ? listen.replace(/^unix:/, '') : false,
    ...(!isSocket ? { loopback: listen } : api.loopback ? { loopback: api.loopback } : {}),
    ...(api.metrics ? { metrics: api.metrics } : {}),
  };
}
