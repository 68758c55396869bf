/**
 * Desired vs observed -> the writes that close the gap, for one namespace: its copies and its
 * ServiceAccounts, in one plan. Pure: the caller passes the cached objects, what it knows of
 * foreign secrets, and the time.
 */
import {
  type NamespaceVerdict,
  type Policy,
  type Source,
  type SourceSet,
  copyDataHash,
  desiredCopy,
  isOptedOut,
  namespaceVerdict,
  pullSecretsChange,
  serviceAccountSelected,
  type PullSecretsChange,
} from './desired.js';
import { ORPHANED_SINCE_ANNOTATION, SOURCE_ANNOTATION, targetName } from './naming.js';
import { isManaged } from './ownership.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from './types.js';

/**
 * What the reconciler observed of one namespace: the input of its plan. Read from the caches,
 * plus what it learnt of secrets that are not ours, and the time.
 */
export interface NamespaceObservation {
  namespace: NamespaceLike | undefined;
  sources: SourceSet;
  /** Our copies in this namespace (secrets carrying the managed-by label). */
  copies: readonly SecretLike[];
  serviceAccounts: readonly ServiceAccountLike[];
  /** Names in this namespace held by secrets that are not ours. */
  foreign: ReadonlySet<string>;
  /** Wall-clock time: grace periods are planned against it. */
  now: number;
}

export type SecretAction =
  | { op: 'create'; secret: SecretLike; source: string }
  /** A full object for a PUT: carries the cached resourceVersion, so a concurrent change gives 409. */
  | { op: 'update'; secret: SecretLike; source: string }
  /** Type changed (immutable field) or the copy is immutable: delete, then create. */
  | { op: 'recreate'; secret: SecretLike; source: string; resourceVersion: string | undefined; reason: string }
  | { op: 'delete'; name: string; resourceVersion: string | undefined; reason: string };

/** A ServiceAccount's new imagePullSecrets, guarded by the resourceVersion they were computed from. */
export interface ServiceAccountAction {
  name: string;
  resourceVersion: string | undefined;
  change: PullSecretsChange;
}

export type Report =
  | { kind: 'foreign'; name: string; source: string }
  | { kind: 'invalid-name'; name: string; source: string; reason: string }
  | { kind: 'name-collision'; name: string; source: string; winner: string };

/**
 * Every write one namespace needs, in the order they are applied: upserts, then ServiceAccounts
 * (which may name only copies that exist), then grace marks, then deletes (whose names have left
 * every ServiceAccount by then).
 */
export interface Plan {
  verdict: NamespaceVerdict;
  /** Creates and updates of copies. */
  upserts: SecretAction[];
  /** ServiceAccounts whose imagePullSecrets change, so that they list exactly `wanted` of ours. */
  serviceAccounts: ServiceAccountAction[];
  /** Copies whose grace clock starts now: the time is written on them (ORPHANED_SINCE_ANNOTATION). */
  marks: { name: string; since: number }[];
  /** Copies to delete. */
  deletes: SecretAction[];
  /** Names of our copies that belong on the selected ServiceAccounts, in order. */
  wanted: string[];
  reports: Report[];
  /** When to look again (the earliest end of a grace period), if any. */
  requeueAfterMs?: number;
}

/** Plans one namespace: desired vs observed, the writes that close the gap. */
export function planNamespace(observed: NamespaceObservation, policy: Policy): Plan {
  const verdict = namespaceVerdict(observed.namespace, policy);
  const plan: Plan = { verdict, upserts: [], serviceAccounts: [], marks: [], deletes: [], wanted: [], reports: [] };
  if (verdict.kind === 'hands-off' || !observed.namespace) return plan;
  const ns = observed.namespace.metadata.name;
  const copies = new Map(observed.copies.filter(isManaged).map((c) => [c.metadata.name, c]));
  if (verdict.kind === 'cleanup') {
    for (const c of copies.values()) plan.deletes.push(deleteOf(c, `namespace ${verdict.reason}`));
  } else {
    const desired = planCopies(plan, ns, observed, copies);
    planLeftovers(plan, observed, policy, [...copies.values()].filter((c) => !desired.has(c.metadata.name)));
  }
  plan.serviceAccounts = planServiceAccounts(verdict, observed.serviceAccounts, plan.wanted, policy);
  return plan;
}

/** The copy each valid source wants here: created, updated or recreated. Returns the names wanted. */
function planCopies(plan: Plan, ns: string, observed: NamespaceObservation, copies: ReadonlyMap<string, SecretLike>): Set<string> {
  const desiredNames = new Set<string>();
  const winnerOf = new Map<string, string>();
  for (const source of observed.sources.valid) {
    const t = targetName(source.name, ns);
    if (!t.ok) {
      plan.reports.push({ kind: 'invalid-name', name: t.name, source: source.ref, reason: t.reason });
      continue;
    }
    const winner = winnerOf.get(t.name);
    if (winner !== undefined) {
      plan.reports.push({ kind: 'name-collision', name: t.name, source: source.ref, winner });
      continue;
    }
    winnerOf.set(t.name, source.ref);
    desiredNames.add(t.name);
    const existing = copies.get(t.name);
    if (!existing && observed.foreign.has(t.name)) {
      plan.reports.push({ kind: 'foreign', name: t.name, source: source.ref });
      continue;
    }
    const action = copyAction(existing, source, desiredCopy(source, ns, t.name));
    if (action) plan.upserts.push(action);
    plan.wanted.push(t.name);
  }
  return desiredNames;
}

/** The write that makes `existing` the desired copy of `source`, if any. */
function copyAction(existing: SecretLike | undefined, source: Source, desired: SecretLike): SecretAction | undefined {
  if (!existing) return { op: 'create', secret: desired, source: source.ref };
  if ((existing.type ?? '') !== desired.type) return recreateOf(existing, desired, source.ref, `type changed from ${existing.type ?? ''} to ${desired.type ?? ''}`);
  const drifted =
    copyDataHash(existing) !== source.dataHash ||
    existing.metadata.annotations?.[SOURCE_ANNOTATION] !== source.ref ||
    existing.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION] !== undefined; // its source is back: the grace clock stops
  if (!drifted) return undefined;
  if (existing.immutable) return recreateOf(existing, desired, source.ref, 'copy is immutable');
  return { op: 'update', secret: updated(existing, desired, source.ref), source: source.ref };
}

/**
 * Our copies that no valid source wants here: their source is gone or no longer qualifies (or,
 * for a stray, maps to another name). Kept for the grace period, then deleted. Copies of a source
 * that exists but does not parse are kept as they are.
 */
function planLeftovers(plan: Plan, observed: NamespaceObservation, policy: Policy, leftovers: readonly SecretLike[]): void {
  const frozen = new Set(observed.sources.invalid.map((s) => s.ref));
  let requeue: number | undefined;
  for (const c of [...leftovers].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ref = c.metadata.annotations?.[SOURCE_ANNOTATION] ?? '';
    if (frozen.has(ref)) {
      plan.wanted.push(c.metadata.name);
      continue;
    }
    // The grace clock of a copy starts when the operator first sees its source missing (or, for a
    // stray, when it first sees the stray), and is kept on the copy itself, so that a restart or a
    // failover does not start it again.
    const marked = orphanedSince(c);
    const since = marked ?? observed.now;
    const left = since + policy.orphanGraceMs - observed.now;
    if (left > 0) {
      plan.wanted.push(c.metadata.name);
      if (marked === undefined) plan.marks.push({ name: c.metadata.name, since });
      requeue = requeue === undefined ? left : Math.min(requeue, left);
    } else {
      plan.deletes.push(deleteOf(c, `source ${ref || '(unknown)'} gone for longer than the grace period`));
    }
  }
  if (requeue !== undefined) plan.requeueAfterMs = requeue;
}

/** The start of a copy's grace clock, from its annotation; undefined when absent or unreadable. */
export function orphanedSince(c: SecretLike): number | undefined {
  const raw = c.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION];
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : t;
}

/** The ServiceAccount writes for a namespace, given the names of our copies that belong on them. */
export function planServiceAccounts(
  verdict: NamespaceVerdict,
  serviceAccounts: readonly ServiceAccountLike[],
  wanted: readonly string[],
  policy: Policy,
): ServiceAccountAction[] {
  if (verdict.kind === 'hands-off') return [];
  const out: ServiceAccountAction[] = [];
  for (const sa of [...serviceAccounts].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (sa.metadata.deletionTimestamp) continue;
    const change = serviceAccountChange(verdict, sa, wanted, policy);
    if (change) out.push({ name: sa.metadata.name, resourceVersion: sa.metadata.resourceVersion, change });
  }
  return out;
}

/**
 * The one rule for a ServiceAccount's entries, shared by the plan (planServiceAccounts), the
 * reconciler's re-read after a 409 and the admission webhook (admitServiceAccount): in a target namespace a
 * selected ServiceAccount that has not opted out gets exactly `wanted`; anywhere else our entries
 * go. Null when nothing changes, and always null where the namespace is hands-off.
 */
export function serviceAccountChange(verdict: NamespaceVerdict, sa: ServiceAccountLike, wanted: readonly string[], policy: Policy): PullSecretsChange | null {
  if (verdict.kind === 'hands-off') return null;
  const eligible = verdict.kind === 'target' && serviceAccountSelected(sa, policy) && !isOptedOut(sa);
  return pullSecretsChange(sa, eligible ? wanted : []);
}

/**
 * What a ServiceAccount being created should carry, decided as the reconciler decides it: the
 * namespace is planned with that ServiceAccount as its only one (a copy that the plan creates
 * counts as there, as it does for the reconciler). `observed.foreign` must hold the names of
 * secrets that are not ours.
 */
export function admitServiceAccount(observed: Omit<NamespaceObservation, 'serviceAccounts'>, sa: ServiceAccountLike, policy: Policy): PullSecretsChange | null {
  return planNamespace({ ...observed, serviceAccounts: [sa] }, policy).serviceAccounts[0]?.change ?? null;
}

function deleteOf(c: SecretLike, reason: string): SecretAction {
  return { op: 'delete', name: c.metadata.name, resourceVersion: c.metadata.resourceVersion, reason };
}

function recreateOf(existing: SecretLike, desired: SecretLike, source: string, reason: string): SecretAction {
  return { op: 'recreate', secret: desired, source, resourceVersion: existing.metadata.resourceVersion, reason };
}

/** The existing copy with the desired type, data and source annotation; other labels and annotations are left as they are. */
function updated(existing: SecretLike, desired: SecretLike, source: string): SecretLike {
  const { dataHash: _hash, data: _data, ...rest } = existing;
  return {
    ...rest,
    metadata: {
      ...existing.metadata,
      labels: { ...(existing.metadata.labels ?? {}), ...(desired.metadata.labels ?? {}) },
      annotations: { ...withoutOrphanMark(existing.metadata.annotations), [SOURCE_ANNOTATION]: source },
    },
    type: desired.type,
    data: { ...(desired.data ?? {}) },
  };
}

function withoutOrphanMark(annotations: Record<string, string> | undefined): Record<string, string> {
  const { [ORPHANED_SINCE_ANNOTATION]: _mark, ...rest } = annotations ?? {};
  return rest;
}
