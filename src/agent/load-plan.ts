// What `failoverd check`, `failoverd run` and a reload (SIGHUP) all do with a config file
// before they touch the system: the loader (YAML, ${ENV}, the schema, every rule placed at
// file:line:key), then planOf, which the agent runs on. One function, so check cannot
// accept what run or a reload refuses.
import {
  formatConfigError,
  loadConfigFile,
  type CheckPluginRegistry,
  type FailoverdConfig,
  type LoadConfigFileOptions,
} from '../config/index.js';
import { planOf, type RuntimePlan } from './map-config.js';

export type LoadedPlan =
  | { ok: true; config: FailoverdConfig; plan: RuntimePlan; warnings: string[]; checkPlugins: CheckPluginRegistry }
  | { ok: false; errors: string[]; warnings: string[] };

/** `warnings` are the loader's, placed; the plan's own are in `plan.warnings`. */
export async function loadPlan(path: string, options: LoadConfigFileOptions, hostname: string): Promise<LoadedPlan> {
  const loaded = await loadConfigFile(path, options);
  const warnings = loaded.warnings.map(formatConfigError);
  if (!loaded.ok) return { ok: false, errors: loaded.errors.map(formatConfigError), warnings };
  const plan = planOf(loaded.config, hostname);
  if (plan.problems.length) return { ok: false, errors: plan.problems.map((p) => `${path}: ${p}`), warnings };
  return { ok: true, config: loaded.config, plan, warnings, checkPlugins: loaded.checkPlugins };
}
