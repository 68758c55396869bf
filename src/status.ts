/**
 * `pullsecret-operator status [-o table|json]`: read-only. It lists what the operator's caches
 * hold (namespaces, the source namespace's secrets, our copies, ServiceAccounts), plans every
 * namespace with the reconciler's pure functions (src/domain/status.ts) and prints each
 * namespace's state and problems and each source's verdict. Exit 0 when every namespace that
 * should be covered is in sync, 1 otherwise. It needs get and list only (docs/operating.md: "Is a namespace
 * covered?").
 *
 * The running operator reports the same states from its caches: namespaceStatesFromCaches, behind
 * the metric pullsecret_operator_namespaces{state}.
 *
 * Each copied source also lists its registry hosts with the credential check's result. status does
 * not check them itself: it reads what the leader published in the ConfigMap
 * pullsecret-operator-credentials of the operator's namespace (docs/credentials.md), and shows a
 * result only when it is about the source's current resourceVersion. A rejected one makes it exit 1.
 */
import { type Policy, collectSources } from './domain/desired.js';
import { MANAGED_SELECTOR } from './domain/ownership.js';
import { planNamespace } from './domain/plan.js';
import { type NamespaceStatus, type SourceStatus, allCovered, namespaceStatus, sourceStatuses } from './domain/status.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from './domain/types.js';
import { pages } from './cleanup.js';
import { foreignNames } from './controller/ownership.js';
import type { Caches } from './controller/reconciler.js';
import type { Kube } from './kube/client.js';
import { copyOf, namespaceOf, serviceAccountOf, sourceOf } from './kube/ingest.js';
import { KubeError } from './kube/client.js';
import { CREDENTIALS_CONFIGMAP, type RegistryStatus, type ResultsDocument, parseResults, registryStatuses } from './registry/results.js';

export interface StatusReport {
  namespaces: NamespaceStatus[];
  sources: (SourceStatus & { registries: RegistryStatus[] })[];
}

/** The credential results status shows: the published document, or why there is none. */
interface Credentials {
  doc: ResultsDocument | undefined;
  missing: string;
}

/** What status plans from: the same lean shapes the caches hold. */
interface View {
  namespaces: readonly NamespaceLike[];
  sources: readonly SecretLike[];
  copies(namespace: string): readonly SecretLike[];
  serviceAccounts(namespace: string): readonly ServiceAccountLike[];
  foreign(namespace: string): ReadonlySet<string>;
}

function report(view: View, policy: Policy, now: number, credentials: Credentials = { doc: undefined, missing: 'not read' }): StatusReport {
  const sources = collectSources(view.sources, policy);
  const namespaces: NamespaceStatus[] = [];
  for (const ns of [...view.namespaces].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const name = ns.metadata.name;
    const s = namespaceStatus({ namespace: ns, sources, copies: view.copies(name), serviceAccounts: view.serviceAccounts(name), foreign: view.foreign(name), now }, policy);
    if (s) namespaces.push(s);
  }
  const byName = new Map(view.sources.map((s) => [s.metadata.name, s]));
  const withRegistries = sourceStatuses(view.sources, policy).map((s) => {
    const secret = byName.get(s.name);
    return { ...s, registries: s.copied && secret ? registryStatuses(secret, s.ref, credentials.doc, credentials.missing) : [] };
  });
  return { namespaces, sources: withRegistries };
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

/** The leader's published credential results (a GET of one ConfigMap), or why they cannot be shown. */
async function readCredentials(kube: Kube, namespace: string): Promise<Credentials> {
  const where = `ConfigMap ${namespace}/${CREDENTIALS_CONFIGMAP}`;
  try {
    const cm = await kube.getConfigMap(namespace, CREDENTIALS_CONFIGMAP);
    if (!cm) return { doc: undefined, missing: `no results published: ${where} not found (the leader publishes them when it runs with --verify-credentials; --operator-namespace names its namespace)` };
    const doc = parseResults(cm.data);
    return 'error' in doc ? { doc: undefined, missing: `the results in ${where} cannot be read: ${doc.error}` } : { doc, missing: '' };
  } catch (err) {
    const why = err instanceof KubeError && err.kind === 'Forbidden' ? 'forbidden (the role needs get on it: manifests/status-reader.yaml)' : err instanceof Error ? err.message : String(err);
    return { doc: undefined, missing: `cannot read ${where}: ${why}` };
  }
}

/**
 * Reads the cluster (lists, and a GET of each name a copy still needs, to tell foreign secrets),
 * and the credential results published in `operatorNamespace`, and reports.
 */
export async function readStatus(kube: Kube, policy: Policy, now: number, operatorNamespace = 'pullsecret-operator'): Promise<StatusReport> {
  const [namespaces, sources, copies, sas, credentials] = await Promise.all([
    listAll((o) => kube.listNamespaces(o), namespaceOf),
    listAll((o) => kube.listSecrets(policy.sourceNamespace, o), sourceOf),
    listAll((o) => kube.listSecrets(undefined, { ...o, labelSelector: MANAGED_SELECTOR }), (raw) => copyOf(raw)).then(byNamespace),
    listAll((o) => kube.listServiceAccounts(o), serviceAccountOf).then(byNamespace),
    readCredentials(kube, operatorNamespace),
  ]);
  // The names a plan would create: held by a secret that is not ours?
  const valid = collectSources(sources, policy);
  const foreign = new Map<string, Set<string>>();
  for (const ns of namespaces) {
    const name = ns.metadata.name;
    const plan = planNamespace({ namespace: ns, sources: valid, copies: copies.get(name) ?? [], serviceAccounts: [], foreign: new Set(), now }, policy);
    const toCreate = plan.upserts.flatMap((a) => (a.op === 'create' ? [a.secret.metadata.name] : []));
    if (toCreate.length > 0) foreign.set(name, await foreignNames(kube, name, toCreate));
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
    credentials,
  );
}

/** Every item of a collection, page by page, converted as it comes. */
async function listAll<W, T>(list: Parameters<typeof pages<W>>[0], of: (w: W) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages(list)) for (const w of page) out.push(of(w));
  return out;
}

function byNamespace<T extends { metadata: { namespace: string } }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const l = m.get(i.metadata.namespace);
    if (l) l.push(i);
    else m.set(i.metadata.namespace, [i]);
  }
  return m;
}

/** Every registry host whose credentials were rejected, as `source at host`. */
export function rejectedCredentials(r: StatusReport): string[] {
  return r.sources.flatMap((s) => s.registries.filter((g) => g.result === 'rejected').map((g) => `${s.ref} at ${g.host}`));
}

/** 0 when every namespace that should be covered is in sync and no source's credentials are rejected, else 1. */
export function statusExitCode(r: StatusReport): number {
  return allCovered(r.namespaces) && rejectedCredentials(r).length === 0 ? 0 : 1;
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
  const creds = table(
    ['SOURCE', 'REGISTRY', 'CREDENTIALS', 'CHECKED', 'DETAIL'],
    r.sources.flatMap((s) => s.registries.map((g) => [s.ref, g.host, g.result, g.checkedAt ?? '-', g.detail])),
  );
  const rejected = rejectedCredentials(r);
  const counts = new Map<string, number>();
  for (const n of r.namespaces) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const summary = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
  const lines = [...ns, '', ...src, '', ...creds, '', `${r.namespaces.length} namespaces: ${summary || 'none'}; ${allCovered(r.namespaces) ? 'every namespace that should be covered is in sync' : 'some namespaces are out of sync'}`];
  if (rejected.length > 0) lines.push(`credentials rejected by the registry: ${rejected.join(', ')}`);
  return [...lines, ''].join('\n');
}
