/** A small Prometheus text-format parser for assertions: families with their samples. */
export interface Family {
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: '', help: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'HELP') family(m[2]!).help = m[3]!;
      else family(m[2]!).type = m[3]!;
      continue;
    }
    m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not Prometheus text format: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const sampleName = m[1]!;
    const base =
      [...families.keys()].find(
        (f) =>
          sampleName === f ||
          ((families.get(f)!.type === 'histogram' || families.get(f)!.type === 'summary') &&
            ['_bucket', '_sum', '_count'].some((s) => sampleName === f + s)),
      ) ?? sampleName;
    family(base).samples.push({ name: sampleName, labels, value: Number(m[3]) });
  }
  return families;
}

export function sample(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
