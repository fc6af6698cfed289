// vrrp_script: refused. failoverd has no VRRP track scripts, so the priority would no
// longer follow the script (the track_script naming it is refused in its instance too).
import { notCarried, type Converted } from './findings.js';
import type { KaNode } from './parse.js';

export function convertVrrpScript(node: KaNode): Converted<never> {
  return { findings: [notCarried(node, 'failoverd has no VRRP track scripts')] };
}
