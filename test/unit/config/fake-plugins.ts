// A small check registry for config tests, so they do not depend on checks/.
import { z } from 'zod';
import type { CheckPlugin } from '../../../src/health/check.js';

const plugin = (type: string, options: z.ZodType): CheckPlugin => ({
  type,
  description: `fake ${type} check`,
  options,
  run: async () => ({ ok: true, reason: 'fake', latencyMs: 0 }),
});

export const fakePlugins: ReadonlyMap<string, CheckPlugin> = new Map([
  ['tcp', plugin('tcp', z.object({ connect_port: z.number().int().min(1).max(65535).optional() }).strict())],
  [
    'http',
    plugin(
      'http',
      z
        .object({
          path: z.string().startsWith('/').default('/'),
          expect_status: z.array(z.number().int()).default([200]),
        })
        .strict(),
    ),
  ],
  ['exec', plugin('exec', z.object({ command: z.string().min(1) }).strict())],
]);
