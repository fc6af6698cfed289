// keepalived's value syntax, shared by the block converters.
import { formatDuration } from '../config/duration.js';

/** keepalived timers are seconds, possibly fractional ("5.5"); the result is ms. */
export function seconds(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Math.round(Number(text) * 1000);
}

export const duration = (ms: number): string => formatDuration(ms);
export const int = (text: string | undefined): number | undefined =>
  text !== undefined && /^-?\d+$/.test(text) ? Number(text) : undefined;
/** keepalived's boolean: absent or on/yes/true. */
export const bool = (text: string | undefined): boolean => text === undefined || /^(on|yes|true|1)$/i.test(text);
export const safeName = (text: string): string => text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]/, 'x$&');
/** failoverd expands ${ENV} in the config; a keepalived value is literal text. */
export const literal = (text: string): string => text.replace(/\$\{/g, '$${');

/** Keys in the order the schema documents them, the rest after; keys whose value is undefined are left out. */
export function ordered<T extends object>(o: T, keys: readonly (keyof T & string)[]): T {
  const source = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (source[k] !== undefined) out[k] = source[k];
  for (const [k, v] of Object.entries(source)) if (!(k in out) && v !== undefined) out[k] = v;
  return out as T;
}
