// The config layer's public surface: load, format errors, the types.
export {
  loadConfigFile,
  loadConfigText,
  type LoadConfigOptions,
  type LoadConfigResult,
  type LoadConfigFileOptions,
  type LoadConfigFileResult,
} from './loader.js';
export { formatConfigError, formatPath, type ConfigError } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export { configJsonSchemaText } from './json-schema.js';
export {
  buildConfigSchema,
  DEFAULT_DRAIN_TIMEOUT,
  SCHEDULERS,
  PROTOCOLS,
  FORWARDINGS,
  type FailoverdConfig,
  type VrrpInstanceConfig,
  type ServiceConfig,
  type RealServerConfig,
  type VipConfig,
  type CheckConfig,
  type WebhookConfig,
  type NotifyConfig,
  type ScheduleConfig,
  type CheckPluginRegistry,
  type CheckPluginSource,
} from './schema.js';
