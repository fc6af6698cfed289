import { hostname } from 'node:os';
import { checkPluginSource } from '../../checks/index.js';
import { Agent, ConfigRejectedError } from '../agent.js';
import { systemdNotifier } from '../agent/io.js';
import { installLastResort, LAST_RESORT_EXIT_CODE } from '../agent/last-resort.js';
import { ApiServer } from '../api/server.js';
import { IpvsClient } from '../ipvs/client.js';
import { systemRoutingIo } from '../routing/system.js';
import { createLogger } from '../log.js';
import { native } from '../net/native.js';
import { systemVrrpIo } from '../vrrp/io.js';
import { DEFAULT_CONFIG_PATH } from './check.js';
import { LOG_FORMATS, LOG_LEVELS } from '../config/schema.js';
import { choiceFlag, parseCommandLine, type Command, type CommandOptions } from './command.js';

const OPTIONS = {
  config: { type: 'string' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  netns: { type: 'string' },
} as const satisfies CommandOptions;

export const command: Command = {
  name: 'run',
  options: OPTIONS,
  summary: 'run the agent in the foreground (what systemd starts)',
  usage: `Usage: failoverd run [--config FILE] [--log-format auto|json|pretty] [--log-level LEVEL]

Runs the agent in the foreground: health checks, the IPVS table, VRRP.
Config: FILE (default ${DEFAULT_CONFIG_PATH}); an invalid config at start
prints every problem and exits 2.

Signals:
  SIGHUP          reload: the new config is validated first; if invalid the
                  running config stays; if valid only the differences apply
                  (VRRP state, health state and IPVS entries are kept); if it
                  cannot be applied (a new instance's interface is missing, the
                  API cannot listen) what it changed is undone, the IPVS table
                  is left untouched and the running config stays
  SIGTERM/SIGINT  graceful stop: masters send priority 0 and drop their VIPs;
                  IPVS entries are kept (on_stop: keep) or removed (on_stop: remove)

An internal error that escapes every handler is logged with its stack; masters
then resign (priority 0, VIPs removed), the IPVS table is left as it is, and
the agent exits ${LAST_RESORT_EXIT_CODE} for systemd's Restart=on-failure.

Logs are pino JSON on stderr; pretty on a terminal or with --log-format pretty.
Under systemd (NOTIFY_SOCKET) it sends READY, RELOADING, STOPPING and WATCHDOG.

Options:
  --config FILE
  --log-format auto|json|pretty   overrides logging.format of the config
  --log-level LEVEL               overrides logging.level (trace..fatal)
  --netns PATH                    open every socket in this network namespace
  -h, --help`,
  async run(argv) {
    const { values: flags } = parseCommandLine(argv, OPTIONS);
    if (flags['log-format'] !== undefined) choiceFlag('log-format', flags['log-format'], LOG_FORMATS);
    if (flags['log-level'] !== undefined) choiceFlag('log-level', flags['log-level'], LOG_LEVELS);
    const configPath = typeof flags['config'] === 'string' ? flags['config'] : DEFAULT_CONFIG_PATH;
    // Capabilities are per thread and children inherit the ambient set of the thread that
    // forks them: cleared here, before the health worker exists, no child keeps the unit's
    // AmbientCapabilities. The agent's own permitted/effective sets stay.
    native().clearAmbientCapabilities();
    const bootLogger = createLogger({ level: 'info' });
    const netns = typeof flags['netns'] === 'string' ? { netns: flags['netns'] } : {};
    let agent: Agent;
    try {
      // The composition root: the system's I/O, which unit tests replace with in-memory twins.
      agent = await Agent.create({
        configPath,
        logger: bootLogger,
        plugins: checkPluginSource(),
        hostname: hostname(),
        openIpvsTable: () => IpvsClient.open(netns),
        openVrrpIo: (onSocketEvent) => systemVrrpIo({ ...netns, onSocketEvent }),
        openApi: (config, deps) => new ApiServer(config, deps),
        routingIo: systemRoutingIo(netns.netns),
        systemd: systemdNotifier,
        ...netns,
        // Running on without health checks would keep sending traffic to whatever was
        // up last: stop (masters resign, the peer takes over) and exit non-zero so that
        // systemd's Restart=on-failure starts a fresh agent.
        onFatal: () => stop('health checks failed', 1),
      });
    } catch (err) {
      if (err instanceof ConfigRejectedError) {
        for (const line of err.lines) process.stderr.write(`${line}\n`);
        process.stderr.write(`failoverd run: ${configPath} is not valid; nothing started\n`);
        return 2;
      }
      throw err;
    }
    const logging = agent.configuration.logging;
    const format = typeof flags['log-format'] === 'string' ? flags['log-format'] : logging.format;
    const level = typeof flags['log-level'] === 'string' ? flags['log-level'] : logging.level;
    const logger = createLogger({ level, ...(format === 'auto' ? {} : { pretty: format === 'pretty' }) });
    agent.useLogger(logger);
    installLastResort({ events: process, logger: () => logger, resign: () => agent.resignAll(), exit: (code) => process.exit(code) });

    let stopping: Promise<void> | undefined;
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => {
      stopped = resolve;
    });
    const stop = (signal: string, exitCode = 0): void => {
      if (stopping) return;
      logger.info({ signal }, 'stopping');
      stopping = agent
        .stop()
        .then(
          () => {
            process.exitCode = exitCode;
          },
          (err) => {
            logger.error({ err }, 'error while stopping');
            process.exitCode = 1;
          },
        )
        .finally(() => {
          logger.flush?.();
          // Whatever still holds the loop (an endpoint that never answers) must not hold the exit.
          setTimeout(() => process.exit(), 200).unref();
          stopped();
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: reloading configuration');
      agent.reload().then(
        (applied) => logger.info({ applied }, applied ? 'configuration reloaded' : 'configuration rejected; the running one stays'),
        (err) => logger.error({ err }, 'reload failed; the running configuration stays'),
      );
    });
    try {
      await agent.start();
    } catch (err) {
      logger.fatal({ err }, `failoverd could not start: ${(err as Error).message}`);
      await agent.stop().catch(() => undefined);
      return 1;
    }
    await done;
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  },
};
