// Real server programs (socat, dnsmasq, exim, python3) run in a test's server namespace,
// each by name: started with `ip netns exec`, stopped by pid (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class ServerPrograms {
  private readonly running = new Map<string, ChildProcess>();

  constructor(private readonly ns: () => string) {}

  /** Starts a program in the namespace; its stderr is printed if it exits with an error. */
  start(name: string, argv: string[]): void {
    const child = spawn('ip', ['netns', 'exec', this.ns(), ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('exit', (code) => {
      if (this.running.get(name) === child && code) process.stderr.write(`${name} exited ${code}: ${stderr}\n`);
    });
    this.running.set(name, child);
  }

  async stop(name: string): Promise<void> {
    const child = this.running.get(name);
    this.running.delete(name);
    if (!child || child.exitCode !== null || !child.pid) return;
    const exited = new Promise((r) => child.once('exit', r));
    // `ip netns exec` execs the program, so this pid is the server itself.
    process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.running.keys()]) await this.stop(name);
  }
}

/** dnsmasq as a private authoritative server on one address and port 53; the caller adds its records. */
export function dnsmasqArgv(listen: string, pidFile: string, records: string[]): string[] {
  return [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--user=root',
    '--group=root',
    `--pid-file=${pidFile}`,
    `--listen-address=${listen}`,
    '--bind-interfaces',
    '--port=53',
    '--local=/failoverd.test/',
    ...records,
  ];
}

/**
 * exim as a private SMTP daemon (mx.failoverd.test, port 25): DIR/exim.conf with its spool, log
 * and pid under DIR, the given main-section lines and ACLs; returns the argv that runs it in the
 * foreground. exim opens its log as its own user: DIR's parents must let it through.
 */
export function eximArgv(dir: string, main: string[], acl: string[] = []): string[] {
  for (const sub of ['spool', 'log']) {
    mkdirSync(join(dir, sub), { recursive: true });
    chmodSync(join(dir, sub), 0o777);
  }
  const conf = [
    'primary_hostname = mx.failoverd.test',
    `spool_directory = ${dir}/spool`,
    `log_file_path = ${dir}/log/%slog`,
    `pid_file_path = ${dir}/exim.pid`,
    'keep_environment =',
    'exim_user = Debian-exim',
    'exim_group = Debian-exim',
    'daemon_smtp_ports = 25',
    ...main,
    'begin acl',
    ...acl,
    'begin routers',
    'begin transports',
  ];
  writeFileSync(join(dir, 'exim.conf'), `${conf.join('\n')}\n`);
  // -bdf: the daemon in the foreground; -C: this private config (root may name one).
  return ['exim4', '-C', join(dir, 'exim.conf'), '-bdf'];
}
