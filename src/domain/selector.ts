/**
 * Kubernetes label selectors in their string form (`env=prod,tier!=db,team in (a,b),!legacy`).
 * Pure: no I/O.
 */
export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' };

export type Selector = readonly Requirement[];

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

/** Parses a label selector; throws an Error that says what is wrong. The empty string selects everything. */
export function parseSelector(text: string): Selector {
  const out: Requirement[] = [];
  for (const raw of splitTopLevel(text)) {
    const part = raw.trim();
    if (part === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
      out.push({ key: checkKey(m[1] ?? ''), op: m[2] as 'in' | 'notin', values: values.map(checkValue) });
    } else if ((m = part.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      const op = m[2] === '!=' ? 'notin' : 'in';
      out.push({ key: checkKey(m[1] ?? ''), op, values: [checkValue(m[3] ?? '')] });
    } else if ((m = part.match(/^!\s*(\S+)$/))) {
      out.push({ key: checkKey(m[1] ?? ''), op: 'doesnotexist' });
    } else if (KEY.test(part)) {
      out.push({ key: part, op: 'exists' });
    } else {
      throw new Error(`invalid label selector requirement "${part}"`);
    }
  }
  return out;
}

/** True when `labels` satisfy every requirement. */
export function matchesSelector(selector: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key] ?? '');
      case 'notin':
        return !has || !r.values.includes(l[r.key] ?? '');
    }
  });
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new Error(`invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (value.length > 63 || !VALUE.test(value)) throw new Error(`invalid label value "${value}"`);
  return value;
}
