// The lab's narration: a timeline of what happened and what the client saw,
// then a summary table. Formatting only; the scenario decides what to say.
import { formatTable } from '../table.js';

export interface Expectation {
  part: string;
  what: string;
  ok: boolean;
  /** What was observed, in words and numbers. */
  observed: string;
}

export interface Measure {
  part: string;
  name: string;
  /** Milliseconds, or undefined when it could not be measured. */
  ms?: number | undefined;
  /** Free text for non-time values ("rs1 20, rs2 20"). */
  text?: string;
  /** A stated goal the value is compared with, in words ("< 4 s"). */
  goal?: string;
  goalMet?: boolean;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Column layout of the timeline: "  12.345  lvs-b    text". */
export function timelineLine(sinceStartMs: number, who: string, text: string): string {
  return `${(sinceStartMs / 1000).toFixed(3).padStart(8)}  ${who.padEnd(8)} ${text}`;
}

export function summaryLines(title: string, measures: readonly Measure[], expectations: readonly Expectation[]): string[] {
  const out = ['', title, ''];
  out.push(
    ...formatTable(
      ['part', 'measure', 'value', 'goal'],
      measures.map((m) => [m.part, m.name, m.text ?? formatMs(m.ms), m.goal ? `${m.goal} ${m.goalMet ? 'met' : 'MISSED'}` : '']),
      { rule: true },
    ).split('\n'),
  );
  out.push('');
  out.push(
    ...formatTable(
      ['', 'part', 'expectation', 'observed'],
      expectations.map((e) => [e.ok ? 'ok' : 'FAIL', e.part, e.what, e.observed]),
      { rule: true },
    ).split('\n'),
  );
  const failed = expectations.filter((e) => !e.ok).length;
  out.push('');
  out.push(failed === 0 ? `all ${expectations.length} expectations held` : `${failed} of ${expectations.length} expectations FAILED`);
  return out;
}
