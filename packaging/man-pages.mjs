// man-pages.mjs OUTDIR — writes failoverd.8 from the CLI's own help (`failoverd --help`
// and each command's --help) and failoverd.yaml.5 from config/schema.json, so the man
// pages say what the program and the validator say, never a copy that can drift.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'packaging/out/man');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const cli = join(root, 'dist/src/cli.js');
// Fixed dates keep the package reproducible: the date is the version's, not the build's.
const date = process.env.SOURCE_DATE_EPOCH
  ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString().slice(0, 10)
  : '2026-01-01';

/** Escapes text for roff: backslashes, and a leading dot or quote that would read as a request. */
function roff(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function help(args) {
  return execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' }).trimEnd();
}

function header(name, section, title) {
  return `.TH ${name.toUpperCase()} ${section} "${date}" "failoverd ${pkg.version}" "${title}"\n`;
}

function commandsPage() {
  const top = help(['--help']);
  const commands = [...top.matchAll(/^ {2}([a-z][a-z-]+) {2,}(.+)$/gm)].map((m) => ({ name: m[1], summary: m[2] }));
  let page = header('failoverd', 8, 'System Administration');
  page += '.SH NAME\nfailoverd \\- ' + roff(pkg.description) + '\n';
  page += '.SH SYNOPSIS\n.B failoverd\n.I command\n.RI [ options ]\n';
  page += '.SH DESCRIPTION\n.nf\n' + roff(top) + '\n.fi\n';
  page += '.SH COMMANDS\n';
  for (const command of commands) {
    page += `.SS ${command.name}\n.nf\n${roff(help([command.name, '--help']))}\n.fi\n`;
  }
  page += '.SH FILES\n.TP\n.I /etc/failoverd/failoverd.yaml\nthe configuration, see\n.BR failoverd.yaml (5)\n';
  page += '.TP\n.I /etc/failoverd/failoverd.env\nsecrets referenced as ${NAME}, read by systemd (root only)\n';
  page += '.TP\n.I /lib/systemd/system/failoverd.service\nthe unit: Type=notify, watchdog, reload by SIGHUP\n';
  page += '.SH SEE ALSO\n.BR failoverd.yaml (5),\n.BR ipvsadm (8),\n.BR systemctl (1)\n';
  return page;
}

function schemaPage() {
  const schema = JSON.parse(readFileSync(join(root, 'config/schema.json'), 'utf8'));
  const resolve = (node) => {
    let n = node;
    for (let i = 0; i < 10 && n && n.$ref; i++)
      n = n.$ref
        .split('/')
        .slice(1)
        .reduce((o, k) => o[k], schema);
    return n ?? {};
  };
  const typeOf = (node) => {
    const n = resolve(node);
    if (n.enum) return `one of ${n.enum.map((v) => JSON.stringify(v)).join(', ')}`;
    if (n.const !== undefined) return JSON.stringify(n.const);
    if (n.anyOf || n.oneOf) return [...new Set((n.anyOf ?? n.oneOf).map(typeOf))].join(' or ');
    if (n.type === 'array') return `list of ${typeOf(n.items ?? {})}`;
    return n.type ?? 'any';
  };
  const entries = [];
  const seen = new Set();
  const walk = (node, path, depth) => {
    const n = resolve(node);
    if (depth > 8) return;
    const object = n.type === 'array' ? resolve(n.items ?? {}) : n;
    const branches = [object, ...(object.anyOf ?? object.oneOf ?? []).map(resolve)];
    for (const branch of branches) {
      for (const [key, child] of Object.entries(branch.properties ?? {})) {
        const childPath = `${path}${path ? '.' : ''}${key}`;
        if (seen.has(childPath)) continue;
        seen.add(childPath);
        const c = resolve(child);
        entries.push({
          path: childPath,
          type: typeOf(child),
          default: child.default ?? c.default,
          description: child.description ?? c.description,
          required: (branch.required ?? []).includes(key),
        });
        walk(child, c.type === 'array' ? `${childPath}[]` : childPath, depth + 1);
      }
    }
  };
  walk(schema, '', 0);
  let page = header('failoverd.yaml', 5, 'File Formats');
  page += '.SH NAME\nfailoverd.yaml \\- configuration of the failoverd IPVS director agent\n';
  page += '.SH DESCRIPTION\n' + roff(schema.description ?? 'The YAML configuration that failoverd run loads.') + '\n';
  page +=
    '.PP\nValidate a file with\n.BR "failoverd check \\-\\-config" " FILE" ;\n' +
    'it names file, line and key of every problem. Durations are a number with a unit (ms, s, m, h, d).\n';
  page += '.SH KEYS\nEvery key the validator accepts, from its JSON Schema (config/schema.json).\n';
  for (const e of entries) {
    page += `.TP\n.B ${roff(e.path)}\n${roff(e.type)}${e.required ? ', required' : ''}`;
    if (e.default !== undefined && JSON.stringify(e.default) !== '{}') page += `; default ${roff(JSON.stringify(e.default))}`;
    page += '\n';
    if (e.description) page += `.br\n${roff(e.description)}\n`;
  }
  page += '.SH FILES\n.I /etc/failoverd/failoverd.yaml\n';
  page += '.SH SEE ALSO\n.BR failoverd (8)\n';
  return page;
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'failoverd.8'), commandsPage());
writeFileSync(join(out, 'failoverd.yaml.5'), schemaPage());
console.log(`man pages: ${join(out, 'failoverd.8')}, ${join(out, 'failoverd.yaml.5')}`);
