/**
 * Desired vs actual -> the writes that close the gap, for one namespace. Pure: the caller passes
 * the cached objects, what it knows of foreign secrets, the orphan clock and the time.
 */
import {
  type NamespaceVerdict,
  type Policy,
  type SourceSet,
  copyDataHash,
  desiredCopy,
  isManaged,
  isOptedOut,
  namespaceVerdict,
  pullSecretsChange,
  serviceAccountSelected,
  type PullSecretsChange,
} from './desired.js';
import { ORPHANED_SINCE_ANNOTATION, SOURCE_ANNOTATION, targetName } from './naming.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from './types.js';

export interface NamespaceState {
  namespace: NamespaceLike | undefined;
  sources: SourceSet;
  /** Our copies in this namespace (secrets carrying the managed-by label). */
  copies: readonly SecretLike[];
  serviceAccounts: readonly ServiceAccountLike[];
  /** Names in this namespace held by secrets that are not ours. */
  foreign: ReadonlySet<string>;
  now: number;
}

export type SecretAction =
  | { op: 'create'; secret: SecretLike; source: string }
  /** A full object for a PUT: carries the cached resourceVersion, so a concurrent change gives 409. */
  | { op: 'update'; secret: SecretLike; source: string }
  /** Type changed (immutable field) or the copy is immutable: delete, then create. */
  | { op: 'recreate'; secret: SecretLike; source: string; resourceVersion: string | undefined; reason: string }
  | { op: 'delete'; name: string; resourceVersion: string | undefined; reason: string };

export interface ServiceAccountAction {
  name: string;
  resourceVersion: string | undefined;
  change: PullSecretsChange;
}

export type Report =
  | { kind: 'foreign'; name: string; source: string }
  | { kind: 'invalid-name'; name: string; source: string; reason: string }
  | { kind: 'name-collision'; name: string; source: string; winner: string };

export interface Plan {
  verdict: NamespaceVerdict;
  /** Creates and updates: applied first. */
  upserts: SecretAction[];
  /** Copies to delete: applied last, after their names left every ServiceAccount. */
  deletes: SecretAction[];
  /** Names of our copies that belong on the selected ServiceAccounts, in order. */
  wanted: string[];
  reports: Report[];
  /** Grace clocks running: refs of missing sources, or `stray:<ns>/<name>` for strays. */
  orphans: string[];
  /** Copies whose grace clock starts now: the time is written on them (ORPHANED_SINCE_ANNOTATION). */
  marks: { name: string; since: number }[];
  /** When to look again (the earliest end of a grace period), if any. */
  requeueAfterMs?: number;
}

/** Plans one namespace. */
export function planNamespace(state: NamespaceState, policy: Policy): Plan {
  const verdict = namespaceVerdict(state.namespace, policy);
  const plan: Plan = { verdict, upserts: [], deletes: [], wanted: [], reports: [], orphans: [], marks: [] };
  if (verdict.kind === 'hands-off' || !state.namespace) return plan;
  const ns = state.namespace.metadata.name;
  const copies = new Map(state.copies.filter(isManaged).map((c) => [c.metadata.name, c]));

  if (verdict.kind === 'cleanup') {
    for (const c of copies.values()) plan.deletes.push(deleteOf(c, `namespace ${verdict.reason}`));
    return plan;
  }

  // 1. The copies each valid source wants here.
  const desiredNames = new Set<string>();
  const winnerOf = new Map<string, string>();
  for (const source of state.sources.valid) {
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
    const desired = desiredCopy(source, ns, t.name);
    if (!existing) {
      if (state.foreign.has(t.name)) {
        plan.reports.push({ kind: 'foreign', name: t.name, source: source.ref });
        continue;
      }
      plan.upserts.push({ op: 'create', secret: desired, source: source.ref });
    } else if ((existing.type ?? '') !== desired.type) {
      plan.upserts.push(recreateOf(existing, desired, source.ref, `type changed from ${existing.type ?? ''} to ${desired.type ?? ''}`));
    } else if (
      copyDataHash(existing) !== source.dataHash ||
      existing.metadata.annotations?.[SOURCE_ANNOTATION] !== source.ref ||
      existing.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION] !== undefined // its source is back: the grace clock stops
    ) {
      if (existing.immutable) plan.upserts.push(recreateOf(existing, desired, source.ref, 'copy is immutable'));
      else plan.upserts.push({ op: 'update', secret: updated(existing, desired, source.ref), source: source.ref });
    }
    plan.wanted.push(t.name);
  }

  // 2. Copies whose source is gone or no longer qualifies: kept for the grace period, then removed.
  //    Copies of a source that exists but does not parse are kept as they are.
  const frozen = new Set(state.sources.invalid.map((s) => s.ref));
  const present = new Set(state.sources.valid.map((s) => s.ref));
  let requeue: number | undefined;
  for (const c of [...copies.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (desiredNames.has(c.metadata.name)) continue;
    const ref = c.metadata.annotations?.[SOURCE_ANNOTATION] ?? '';
    if (frozen.has(ref)) {
      plan.wanted.push(c.metadata.name);
      continue;
    }
    // The grace clock of a copy starts when the operator first sees its source missing (or, for a
    // stray, a copy whose source exists but maps to another name, when it first sees it), and is
    // kept on the copy itself, so that a restart or a failover does not start it again.
    const clock = present.has(ref) ? `stray:${ns}/${c.metadata.name}` : ref;
    const marked = orphanedSince(c);
    const since = marked ?? state.now;
    const left = since + policy.orphanGraceMs - state.now;
    if (left > 0) {
      plan.orphans.push(clock);
      plan.wanted.push(c.metadata.name);
      if (marked === undefined) plan.marks.push({ name: c.metadata.name, since });
      requeue = requeue === undefined ? left : Math.min(requeue, left);
    } else {
      plan.deletes.push(deleteOf(c, `source ${ref || '(unknown)'} gone for longer than the grace period`));
    }
  }
  if (requeue !== undefined) plan.requeueAfterMs = requeue;
  plan.orphans = [...new Set(plan.orphans)];
  return plan;
}

/** The start of a copy's grace clock, from its annotation; undefined when absent or unreadable. */
export function orphanedSince(c: SecretLike): number | undefined {
  const raw = c.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION];
  if (raw === undefined) return undefined;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : t;
}

/** The ServiceAccount writes for a namespace, given the names of our copies that exist (or were just written). */
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
 * The one rule for a ServiceAccount's entries, shared by the reconciler (planServiceAccounts, and
 * its re-read after a 409) and the admission webhook (admitServiceAccount): in a target namespace a
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
 * namespace is planned with no ServiceAccounts (a copy that the plan creates counts as there, as
 * it does for the reconciler), and the new ServiceAccount gets serviceAccountChange of the plan's
 * verdict and wanted names. `state.foreign` must hold the names of secrets that are not ours.
 */
export function admitServiceAccount(state: Omit<NamespaceState, 'serviceAccounts'>, sa: ServiceAccountLike, policy: Policy): PullSecretsChange | null {
  const plan = planNamespace({ ...state, serviceAccounts: [] }, policy);
  return serviceAccountChange(plan.verdict, sa, plan.wanted, policy);
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
