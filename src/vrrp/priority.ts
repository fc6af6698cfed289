// Effective priority from the base priority and tracked objects, with
// keepalived's semantics: weight 0 → FAULT when the object fails; a positive
// weight is added while the object is up; a negative one while it is down.
// `reverse` negates the adjustment under the same condition (keepalived.conf(5):
// "the priority is decreased when up and increased when down"), and turns weight 0
// into FAULT while the object is up (a file: while it holds 0).
// Non-owners are clamped to 1..254; the address owner (255) is never adjusted.
import { OWNER_PRIORITY } from './fsm.js';

export type TrackKind = 'interface' | 'service' | 'script' | 'file' | 'process';

export interface TrackedStatus {
  kind: TrackKind;
  name: string;
  weight: number;
  /** keepalived's `reverse`: the adjustment is negated; with weight 0, FAULT while up. */
  reverse?: boolean;
  /** Interfaces, services, scripts, processes: up or not. Files: the integer they hold. */
  value: boolean | number;
}

export interface EffectivePriority {
  priority: number;
  fault: boolean;
  /** "kind/name" of each object that puts the instance in FAULT. */
  faultedBy: string[];
}

export function effectivePriority(base: number, tracked: readonly TrackedStatus[]): EffectivePriority {
  let adjustment = 0;
  const faultedBy: string[] = [];
  for (const t of tracked) {
    const sign = t.reverse ? -1 : 1;
    if (typeof t.value === 'number') {
      if (t.weight === 0) {
        if ((t.value !== 0) !== Boolean(t.reverse)) faultedBy.push(`${t.kind}/${t.name}`);
      } else {
        const contribution = t.value * t.weight * sign;
        // keepalived: a file-driven drop below -253 means FAULT rather than a priority.
        if (contribution <= -254) faultedBy.push(`${t.kind}/${t.name}`);
        else adjustment += contribution;
      }
      continue;
    }
    if (t.weight === 0) {
      if (t.value === Boolean(t.reverse)) faultedBy.push(`${t.kind}/${t.name}`);
    } else if (t.weight > 0 ? t.value : !t.value) {
      adjustment += t.weight * sign;
    }
  }
  const priority = base === OWNER_PRIORITY ? OWNER_PRIORITY : Math.min(254, Math.max(1, base + adjustment));
  return { priority, fault: faultedBy.length > 0, faultedBy };
}
