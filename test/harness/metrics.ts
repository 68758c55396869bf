/**
 * The Prometheus text format, as the tests and benchmarks read it: the API server's /metrics
 * (apiserver_request_total, priority and fairness) and the operator's own. One parser, so that each
 * reader picks samples by name and labels instead of matching lines by hand.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of the exposition `text` whose name is `name`. */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    const brace = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    if (brace === name.length && close > brace) for (const m of line.slice(brace + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] ?? ''] = m[2] ?? '';
    out.push({ name, labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels pass `where`. */
export function sum(text: string, name: string, where: (labels: Record<string, string>) => boolean = () => true): number {
  return samples(text, name)
    .filter((s) => where(s.labels))
    .reduce((n, s) => n + s.value, 0);
}

/** apiserver_request_total by verb, for the given resources (subresources excluded). */
export function requestsByVerb(text: string, resources: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples(text, 'apiserver_request_total')) {
    if (!resources.includes(s.labels['resource'] ?? '') || (s.labels['subresource'] ?? '') !== '') continue;
    const verb = s.labels['verb'] ?? '';
    out[verb] = (out[verb] ?? 0) + s.value;
  }
  return out;
}

/** The verbs of apiserver_request_total that change state. */
export const WRITE_VERBS: readonly string[] = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'];
