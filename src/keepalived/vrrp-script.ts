// The tracked objects instances name: vrrp_script, track_file (vrrp_track_file) and
// vrrp_track_process blocks, read in the first pass. Each becomes an entry of the
// track: lists of the instances that name it (vrrp-instance.ts), with the instance's
// own weight and reverse if it gives them.
import { TRACK_WEIGHT_MAX } from '../vrrp/limits.js';
import { lossy, notCarried, unknownKeyword, type Converted, type Finding } from './findings.js';
import { commandOf } from './notify.js';
import type { KaNode } from './parse.js';
import { duration, int, seconds } from './values.js';

/** A definition being filled in: a key may be set to undefined (an unparsable value), as before exactOptionalPropertyTypes. */
type Draft<T> = { [K in keyof T]?: T[K] | undefined };

export interface TrackWeightDef {
  weight: number;
  reverse: boolean;
}

export interface ScriptDef extends TrackWeightDef {
  command: string | string[];
  interval?: string;
  timeout?: string;
  rise?: number;
  fall?: number;
  /** init_fail. */
  initial?: 'down';
}

export interface FileDef extends TrackWeightDef {
  path: string;
}

export interface ProcessDef extends TrackWeightDef {
  process: string;
  args?: string[];
  param_match?: string;
  full_command?: boolean;
  quorum?: number;
  quorum_max?: number;
  delay_up?: string;
  delay_down?: string;
}

/** `weight N [reverse]` as keepalived writes it; refused outside failoverd's range. */
export function weightOf(node: KaNode, words: readonly string[]): Converted<TrackWeightDef> {
  const weight = int(words[0]);
  const rest = words.slice(1);
  const reverse = rest[0] === 'reverse';
  if (weight === undefined || rest.length > 1 || (rest.length === 1 && !['reverse', 'noreverse', 'no_reverse'].includes(rest[0]!))) {
    return { findings: [notCarried(node, 'expected weight N [reverse]')] };
  }
  if (Math.abs(weight) > TRACK_WEIGHT_MAX) {
    return { findings: [notCarried(node, `weight outside failoverd's -${TRACK_WEIGHT_MAX}..${TRACK_WEIGHT_MAX}`)] };
  }
  return { value: { weight, reverse }, findings: [] };
}

/** A tracker block's own `weight N [reverse]` line, into its definition (or a finding). */
function applyWeight(node: KaNode, into: TrackWeightDef, findings: Finding[]): void {
  const w = weightOf(node, node.args);
  findings.push(...w.findings);
  if (w.value) Object.assign(into, w.value);
}

const durationOf = (text: string | undefined): string | undefined => {
  const ms = seconds(text);
  return ms === undefined ? undefined : duration(ms);
};

export function convertVrrpScript(node: KaNode): Converted<ScriptDef> {
  const findings: Finding[] = [];
  const out: Draft<ScriptDef> & TrackWeightDef = { weight: 0, reverse: false };
  for (const c of node.children ?? []) {
    switch (c.keyword) {
      case 'script': {
        const cmd = commandOf(c);
        findings.push(...cmd.findings);
        if (cmd.value) out.command = cmd.value;
        break;
      }
      case 'interval':
        out.interval = durationOf(c.args[0]);
        break;
      case 'timeout':
        out.timeout = durationOf(c.args[0]);
        break;
      case 'rise':
        out.rise = int(c.args[0]);
        break;
      case 'fall':
        out.fall = int(c.args[0]);
        break;
      case 'weight':
        applyWeight(c, out, findings);
        break;
      case 'user':
        findings.push(notCarried(c, 'failoverd runs its track scripts as itself'));
        break;
      case 'init_fail':
        out.initial = 'down';
        break;
      default:
        findings.push(unknownKeyword(c, 'vrrp_script'));
    }
  }
  if (out.command === undefined) {
    if (!findings.length) findings.push(lossy(node, `vrrp_script ${node.args[0] ?? ''}: no script`));
    return { findings };
  }
  return { value: out as ScriptDef, findings };
}

export function convertTrackFile(node: KaNode): Converted<FileDef> {
  const findings: Finding[] = [];
  // keepalived: "file to track (weight defaults to 1)".
  const out: Draft<FileDef> & TrackWeightDef = { weight: 1, reverse: false };
  for (const c of node.children ?? []) {
    switch (c.keyword) {
      case 'file':
        out.path = c.args[0];
        break;
      case 'weight':
        applyWeight(c, out, findings);
        break;
      case 'init_file':
        findings.push(notCarried(c, 'failoverd does not create or write the tracked file at start'));
        break;
      default:
        findings.push(unknownKeyword(c, 'track_file'));
    }
  }
  if (!out.path?.startsWith('/')) {
    findings.push(lossy(node, `track_file ${node.args[0] ?? ''}: needs an absolute file path`));
    return { findings };
  }
  return { value: out as FileDef, findings };
}

export function convertTrackProcess(node: KaNode): Converted<ProcessDef> {
  const findings: Finding[] = [];
  // keepalived: "default weight (default is 1)".
  const out: Draft<ProcessDef> & TrackWeightDef = { weight: 1, reverse: false };
  for (const c of node.children ?? []) {
    switch (c.keyword) {
      case 'process':
        out.process = c.args[0];
        if (c.args.length > 1) out.args = c.args.slice(1);
        break;
      case 'param_match':
        if (c.args[0] === 'initial' || c.args[0] === 'partial') out.param_match = c.args[0];
        else findings.push(notCarried(c, 'expected initial or partial'));
        break;
      case 'full_command':
        out.full_command = true;
        break;
      case 'quorum':
        out.quorum = int(c.args[0]);
        break;
      case 'quorum_max':
        out.quorum_max = int(c.args[0]);
        break;
      case 'fork_delay':
        out.delay_up = durationOf(c.args[0]);
        break;
      case 'terminate_delay':
        out.delay_down = durationOf(c.args[0]);
        break;
      case 'delay':
        out.delay_up = out.delay_down = durationOf(c.args[0]);
        break;
      case 'weight':
        applyWeight(c, out, findings);
        break;
      default:
        findings.push(unknownKeyword(c, 'vrrp_track_process'));
    }
  }
  if (!out.process) {
    findings.push(lossy(node, `vrrp_track_process ${node.args[0] ?? ''}: no process`));
    return { findings };
  }
  return { value: out as ProcessDef, findings };
}
