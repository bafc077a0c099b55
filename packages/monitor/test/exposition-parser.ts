/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written for the tests (prom-client
 * ships no parser). It follows the format document: families announced by `# TYPE` appear once and
 * their samples are contiguous; histogram samples are `_bucket` (with `le`), `_sum` and `_count`;
 * label values unescape `\\`, `\"` and `\n`; HELP text unescapes `\\` and `\n`. It throws on anything else.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const rest = line.slice(7);
      const name = METRIC.exec(rest)?.[0] ?? fail('bad metric name');
      const tail = rest.slice(name.length);
      if (tail !== '' && !tail.startsWith(' ')) fail('bad metric name');
      let family = families.get(name);
      if (family === undefined) {
        if (seen.has(name)) fail('family lines are not contiguous');
        family = { name, type: 'untyped', help: undefined, samples: [] };
        families.set(name, family);
        seen.add(name);
      } else if (family !== current) fail('family lines are not contiguous');
      current = family;
      if (line.startsWith('# HELP ')) {
        if (family.help !== undefined) fail('second HELP');
        family.help = unescapeHelp(tail.slice(1), fail);
      } else {
        if (family.samples.length > 0 || family.type !== 'untyped') fail('TYPE after samples or twice');
        const type = tail.slice(1);
        if (!TYPES.has(type)) fail('unknown type');
        family.type = type;
      }
      return;
    }
    if (line.startsWith('#') || line.trim() === '') return;
    const sample = parseSample(line, fail);
    const family = current !== undefined && belongs(sample.name, current) ? current : undefined;
    if (family === undefined) fail('sample outside its family');
    family!.samples.push(sample);
  });
  for (const family of families.values()) checkFamily(family);
  return families;
}

function belongs(sampleName: string, family: Family): boolean {
  if (sampleName === family.name) return family.type !== 'histogram';
  if (family.type === 'histogram' || family.type === 'summary') {
    return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`].includes(sampleName);
  }
  return false;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const name = METRIC.exec(line)?.[0] ?? fail('bad sample name');
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    while (line[pos] !== '}') {
      const label = LABEL.exec(line.slice(pos))?.[0] ?? fail('bad label name');
      pos += label.length;
      if (line.slice(pos, pos + 2) !== '="') fail('expected ="');
      pos += 2;
      let value = '';
      for (;;) {
        const ch = line[pos++];
        if (ch === undefined) fail('unterminated label value');
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[pos++];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else fail('bad escape in label value');
        } else value += ch;
      }
      if (label in labels) fail('duplicate label');
      labels[label] = value;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') fail('expected , or }');
    }
    pos++;
  }
  if (line[pos] !== ' ') fail('expected a space before the value');
  const parts = line.slice(pos + 1).split(' ');
  if (parts.length > 2) fail('too many fields');
  const value = parseValue(parts[0]!, fail);
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) fail('bad timestamp');
  return { name, labels, value };
}

function parseValue(text: string, fail: (why: string) => never): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) fail('bad value');
  return Number(text);
}

function unescapeHelp(text: string, fail: (why: string) => never): string {
  return text.replace(/\\(.?)/g, (_, ch: string) =>
    ch === '\\' ? '\\' : ch === 'n' ? '\n' : fail('bad escape in HELP'),
  );
}

/** Histogram invariants: per label set, cumulative buckets ascending in `le`, `+Inf` = `_count`. */
function checkFamily(family: Family): void {
  const keys = new Set<string>();
  for (const s of family.samples) {
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (keys.has(key)) throw new Error(`${family.name}: duplicate sample ${key}`);
    keys.add(key);
  }
  if (family.type !== 'histogram') return;
  const bySet = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = bySet.get(key);
    if (entry === undefined) {
      entry = { buckets: [] };
      bySet.set(key, entry);
    }
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      entry.buckets.push([
        parseValue(le, (why) => {
          throw new Error(why);
        }),
        s.value,
      ]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
    else entry.sum = s.value;
  }
  for (const [key, entry] of bySet) {
    const last = entry.buckets[entry.buckets.length - 1];
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (entry.count !== last[1] || entry.sum === undefined)
      throw new Error(`${family.name}${key}: _count/_sum`);
    for (let i = 1; i < entry.buckets.length; i++) {
      const [le0, c0] = entry.buckets[i - 1]!;
      const [le1, c1] = entry.buckets[i]!;
      if (!(le1 > le0) || c1 < c0) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
  }
}
