// What the UML agent tests share: a director and a client namespace on one veth pair
// (the seed's addresses, directorAndClient), a work directory, and `failoverd run` started
// in the director (AgentProcess: JSON logs, exit code, the API). One after() kills the
// agents still running, deletes both namespaces and the directory.
import { after } from 'node:test';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directorAndClient, type Netns } from '../helpers/netns.js';
import { AgentProcess } from '../netns/robustness/agent-process.js';

export interface DirectorLab {
  dir: Netns;
  client: Netns;
  work: string;
  /** `failoverd run --config FILE` in the director; its API on work/api.sock. */
  startAgent: (configPath: string, options?: { logLevel?: string; env?: NodeJS.ProcessEnv }) => AgentProcess;
}

/** Call at a test file's top level (it registers the after() hook). */
export function directorLab(tag: string, options: { workMode?: number } = {}): DirectorLab {
  const work = mkdtempSync(join(tmpdir(), `failoverd-uml-${tag}-`));
  // e.g. 0o755: checks and notify programs in it may run as an unprivileged user.
  if (options.workMode !== undefined) chmodSync(work, options.workMode);
  const { director: dir, client } = directorAndClient(`fo-${tag}`);
  const agents: AgentProcess[] = [];
  after(async () => {
    for (const a of agents) {
      a.kill('SIGKILL');
      await a.exited;
      await a.api.close().catch(() => undefined);
    }
    dir.delete();
    client.delete();
    rmSync(work, { recursive: true, force: true });
  });
  return {
    dir,
    client,
    work,
    startAgent: (configPath, o = {}) => {
      const agent = AgentProcess.start(dir.name, configPath, join(work, 'api.sock'), o.env ?? {}, o.logLevel ?? 'info');
      agents.push(agent);
      return agent;
    },
  };
}
