/**
 * `pullsecret-operator status [-o table|json]`: read-only. It lists what the operator's caches
 * hold (namespaces, the source namespace's secrets, our copies, ServiceAccounts), plans every
 * namespace with the reconciler's pure functions (src/domain/status.ts) and prints each
 * namespace's state and problems and each source's verdict. Exit 0 when every namespace that
 * should be covered is in sync, 1 otherwise. It needs get and list only (README: "The status
 * command").
 *
 * The running operator reports the same states from its caches: namespaceStatesFromCaches, behind
 * the metric pullsecret_operator_namespaces{state}.
 */
import { type Policy, collectSources, isManaged } from './domain/desired.js';
import { planNamespace } from './domain/plan.js';
import { type NamespaceStatus, type SourceStatus, allCovered, namespaceStatus, sourceStatuses } from './domain/status.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from './domain/types.js';
import { pages } from './cleanup.js';
import type { Caches } from './controller/reconciler.js';
import { MANAGED_SELECTOR } from './controller/operator.js';
import type { Kube } from './kube/client.js';
import { copyOf, namespaceOf, serviceAccountOf, sourceOf } from './kube/ingest.js';

export interface StatusReport {
  namespaces: NamespaceStatus[];
  sources: SourceStatus[];
}

/** What status plans from: the same lean shapes the caches hold. */
interface View {
  namespaces: readonly NamespaceLike[];
  sources: readonly SecretLike[];
  copies(namespace: string): readonly SecretLike[];
  serviceAccounts(namespace: string): readonly ServiceAccountLike[];
  foreign(namespace: string): ReadonlySet<string>;
}

function report(view: View, policy: Policy, now: number): StatusReport {
  const sources = collectSources(view.sources, policy);
  const namespaces: NamespaceStatus[] = [];
  for (const ns of [...view.namespaces].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const name = ns.metadata.name;
    const s = namespaceStatus({ namespace: ns, sources, copies: view.copies(name), serviceAccounts: view.serviceAccounts(name), foreign: view.foreign(name), now }, policy);
    if (s) namespaces.push(s);
  }
  return { namespaces, sources: sourceStatuses(view.sources, policy) };
}

/**
 * The states of every namespace, from the running operator's caches. A name held by a foreign
 * secret shows as a copy still to be made unless `foreign` knows it (the reconciler learns such
 * names when a create finds them): out of sync either way.
 */
export function namespaceStatesFromCaches(caches: Caches, policy: Policy, now: number, foreign: (namespace: string) => ReadonlySet<string> = () => new Set()): NamespaceStatus[] {
  return report(
    {
      namespaces: caches.namespaces.list(),
      sources: caches.sources.list(policy.sourceNamespace),
      copies: (ns) => caches.copies.list(ns),
      serviceAccounts: (ns) => caches.serviceAccounts.list(ns),
      foreign,
    },
    policy,
    now,
  ).namespaces;
}

/** Reads the cluster (lists, and a GET of each name a copy still needs, to tell foreign secrets) and reports. */
export async function readStatus(kube: Kube, policy: Policy, now: number): Promise<StatusReport> {
  const byNamespace = <T extends { metadata: { namespace?: string } }>(items: T[]): Map<string, T[]> => {
    const m = new Map<string, T[]>();
    for (const i of items) {
      const ns = i.metadata.namespace ?? '';
      const l = m.get(ns);
      if (l) l.push(i);
      else m.set(ns, [i]);
    }
    return m;
  };
  const all = async <W, T>(list: Parameters<typeof pages<W>>[0], of: (w: W) => T): Promise<T[]> => {
    const out: T[] = [];
    for await (const page of pages(list)) out.push(...page.map(of));
    return out;
  };
  const [namespaces, sources, copies, sas] = await Promise.all([
    all((o) => kube.listNamespaces(o), namespaceOf),
    all((o) => kube.listSecrets(policy.sourceNamespace, o), sourceOf),
    all((o) => kube.listSecrets(undefined, { ...o, labelSelector: MANAGED_SELECTOR }), copyOf).then(byNamespace),
    all((o) => kube.listServiceAccounts(o), serviceAccountOf).then(byNamespace),
  ]);
  // The names a plan would create: held by a secret that is not ours?
  const valid = collectSources(sources, policy);
  const foreign = new Map<string, Set<string>>();
  for (const ns of namespaces) {
    const name = ns.metadata.name;
    const plan = planNamespace({ namespace: ns, sources: valid, copies: copies.get(name) ?? [], serviceAccounts: [], foreign: new Set(), now }, policy);
    for (const a of plan.upserts) {
      if (a.op !== 'create') continue;
      const live = await kube.getSecret(name, a.secret.metadata.name);
      if (live && !isManaged(copyOf(live))) {
        const set = foreign.get(name) ?? new Set<string>();
        set.add(a.secret.metadata.name);
        foreign.set(name, set);
      }
    }
  }
  return report(
    {
      namespaces,
      sources,
      copies: (ns) => copies.get(ns) ?? [],
      serviceAccounts: (ns) => sas.get(ns) ?? [],
      foreign: (ns) => foreign.get(ns) ?? new Set(),
    },
    policy,
    now,
  );
}

export function statusExitCode(r: StatusReport): number {
  return allCovered(r.namespaces) ? 0 : 1;
}

export function formatStatusJson(r: StatusReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function formatStatusTable(r: StatusReport): string {
  const table = (head: string[], rows: string[][]): string[] => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => (x[i] ?? '').length)));
    return [head, ...rows].map((x) => x.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  };
  const ns = table(
    ['NAMESPACE', 'STATE', 'COPIES', 'SERVICEACCOUNTS MISSING ENTRIES', 'FOREIGN', 'PROBLEMS'],
    r.namespaces.map((n) => [
      n.namespace,
      n.state,
      String(n.copies.length),
      n.serviceAccounts.filter((s) => s.missing.length > 0).map((s) => s.name).join(',') || '-',
      n.foreign.join(',') || '-',
      n.problems.join('; ') || (n.reason ?? '-'),
    ]),
  );
  const src = table(
    ['SOURCE', 'COPIED', 'WHY'],
    r.sources.map((s) => [s.ref, s.copied ? 'yes' : 'no', s.reason]),
  );
  const counts = new Map<string, number>();
  for (const n of r.namespaces) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const summary = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  return [...ns, '', ...src, '', `${r.namespaces.length} namespaces: ${summary || 'none'}; ${allCovered(r.namespaces) ? 'every namespace that should be covered is in sync' : 'some namespaces are out of sync'}`, ''].join('\n');
}
