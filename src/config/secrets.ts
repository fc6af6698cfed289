// Which keys of a config hold secrets: the one list the world-readable warning reads.
import type { ConfigPathSegment } from './errors.js';
import type { FailoverdConfig } from './schema.js';

const SECRET_HEADER = /auth|token|secret|key|cookie|signature/i;
/** A path segment that reads like a token (Slack's and Discord's webhook URLs carry theirs in the path). */
const TOKEN_SEGMENT = /^[A-Za-z0-9_-]{20,}$/;

function urlHoldsCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (
      parsed.username !== '' ||
      parsed.password !== '' ||
      parsed.search !== '' ||
      parsed.pathname.split('/').some((segment) => TOKEN_SEGMENT.test(segment))
    );
  } catch {
    return false;
  }
}

/** Every key of `config` whose value is (or carries) a secret. */
export function secretPaths(config: FailoverdConfig): ConfigPathSegment[][] {
  const paths: ConfigPathSegment[][] = [];
  config.vrrp.forEach((instance, i) => {
    if (instance.auth) paths.push(['vrrp', i, 'auth', 'password']);
  });
  config.alerts.webhooks.forEach((webhook, i) => {
    const at = ['alerts', 'webhooks', i];
    if (webhook.secret) paths.push([...at, 'secret']);
    webhook.secrets.forEach((_, j) => paths.push([...at, 'secrets', j]));
    if (urlHoldsCredentials(webhook.url)) paths.push([...at, 'url']);
    for (const name of Object.keys(webhook.headers)) if (SECRET_HEADER.test(name)) paths.push([...at, 'headers', name]);
  });
  return paths;
}
