/**
 * `pullsecret-operator status` and the namespaces-by-state metric: what the plan of each namespace
 * says about it, in an admin's words. Pure: the same planNamespace the reconciler runs, on what
 * the caller observed.
 */
import type { Policy } from './desired.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, COPY_LABEL, sourceRef } from './naming.js';
import { isManaged } from './ownership.js';
import { type NamespaceObservation, type Plan, planNamespace } from './plan.js';
import { classifySource } from './sources.js';
import type { SecretLike, ServiceAccountLike } from './types.js';

export const NAMESPACE_STATES = ['in-sync', 'out-of-sync', 'excluded', 'opted-out', 'terminating'] as const;
export type NamespaceStateName = (typeof NAMESPACE_STATES)[number];

/** What a problem of a namespace is about: `kinds[i]` names the kind of `problems[i]`. */
export const PROBLEM_KINDS = ['copy-missing', 'copy-outdated', 'copy-recreate', 'copy-to-delete', 'foreign-secret', 'invalid-name', 'name-collision', 'serviceaccount-missing', 'serviceaccount-extra'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** A secret of the source namespace: copied; invalid (meant to be copied, and cannot be); ignored (not copied, by design). */
export const SOURCE_STATES = ['copied', 'invalid', 'ignored'] as const;
export type SourceStateName = (typeof SOURCE_STATES)[number];

export interface NamespaceStatus {
  namespace: string;
  state: NamespaceStateName;
  /** Why the state is what it is, for excluded, opted-out and terminating namespaces. */
  reason?: string;
  /** Our copies that exist in the namespace. */
  copies: string[];
  /** ServiceAccounts whose imagePullSecrets lack some of the copies' names (or hold ours that must go). */
  serviceAccounts: { name: string; missing: string[]; extra: string[] }[];
  /** Names of copies held by secrets that are not ours. */
  foreign: string[];
  /** Everything that differs from the desired state, one sentence each. Empty when in sync. */
  problems: string[];
  /** The kind of each problem, in the same order. */
  kinds: ProblemKind[];
}

export interface SourceStatus {
  name: string;
  ref: string;
  copied: boolean;
  state: SourceStateName;
  reason: string;
}

/**
 * The status of one namespace. `undefined` for a namespace that is gone. Only a namespace that
 * should be covered (a target) can be out of sync; an excluded or opted-out namespace that still
 * holds our copies or entries lists them as problems but keeps its state.
 */
export function namespaceStatus(observed: NamespaceObservation, policy: Policy): NamespaceStatus | undefined {
  const ns = observed.namespace;
  if (!ns) return undefined;
  const plan = planNamespace(observed, policy);
  const copies = observed.copies.filter(isManaged).map((c) => c.metadata.name).sort();
  const out: NamespaceStatus = { namespace: ns.metadata.name, state: 'in-sync', copies, serviceAccounts: [], foreign: [], problems: [], kinds: [] };
  const v = plan.verdict;
  if (v.kind === 'hands-off') {
    out.state = v.reason === 'terminating' ? 'terminating' : 'excluded';
    out.reason = v.reason === 'source-namespace' ? 'the source namespace' : v.reason;
    return out;
  }
  if (v.kind === 'cleanup') {
    out.state = v.reason === 'opted-out' ? 'opted-out' : 'excluded';
    out.reason = v.reason === 'not-selected' ? 'not selected by --namespace-selector' : v.reason === 'excluded' ? 'excluded by --exclude-namespaces or always excluded' : 'annotated pullsecret-operator.io/opt-out=true';
  }
  copyProblems(plan, out);
  serviceAccountProblems(plan, observed.serviceAccounts, out);
  if (v.kind === 'target' && out.problems.length > 0) out.state = 'out-of-sync';
  return out;
}

/** Adds a problem and its kind. */
function problem(out: NamespaceStatus, kind: ProblemKind, text: string): void {
  out.problems.push(text);
  out.kinds.push(kind);
}

/** The plan's secret writes and reports, in an admin's words. */
function copyProblems(plan: Plan, out: NamespaceStatus): void {
  for (const a of plan.upserts) {
    if (a.op === 'create') problem(out, 'copy-missing', `copy ${a.secret.metadata.name} of ${a.source} is missing`);
    else if (a.op === 'update') problem(out, 'copy-outdated', `copy ${a.secret.metadata.name} differs from its source ${a.source}`);
    else if (a.op === 'recreate') problem(out, 'copy-recreate', `copy ${a.secret.metadata.name} must be recreated: ${a.reason}`);
  }
  for (const a of plan.deletes) if (a.op === 'delete') problem(out, 'copy-to-delete', `copy ${a.name} is to be deleted: ${a.reason}`);
  for (const r of plan.reports) {
    if (r.kind === 'foreign') {
      out.foreign.push(r.name);
      problem(out, 'foreign-secret', `secret ${r.name} is not managed by pullsecret-operator: no copy of ${r.source} (label it ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} to hand it over)`);
    } else if (r.kind === 'invalid-name') problem(out, 'invalid-name', `no copy of ${r.source}: ${r.reason}`);
    else problem(out, 'name-collision', `${r.source} and ${r.winner} both map to ${r.name}; only ${r.winner} is copied`);
  }
}

/** The plan's ServiceAccount writes, as the names each lacks or still lists; one that only changes the annotation is no problem. */
function serviceAccountProblems(plan: Plan, serviceAccounts: readonly ServiceAccountLike[], out: NamespaceStatus): void {
  const byName = new Map(serviceAccounts.map((sa) => [sa.metadata.name, sa]));
  for (const a of plan.serviceAccounts) {
    const current = new Set((byName.get(a.name)?.imagePullSecrets ?? []).map((e) => e.name));
    const next = new Set(a.change.imagePullSecrets.map((e) => e.name));
    const missing = [...next].filter((n): n is string => n !== undefined && !current.has(n));
    const extra = [...current].filter((n): n is string => n !== undefined && !next.has(n));
    if (missing.length === 0 && extra.length === 0) continue;
    out.serviceAccounts.push({ name: a.name, missing, extra });
    if (missing.length > 0) problem(out, 'serviceaccount-missing', `ServiceAccount ${a.name} lacks ${missing.join(', ')}`);
    if (extra.length > 0) problem(out, 'serviceaccount-extra', `ServiceAccount ${a.name} still lists ${extra.join(', ')}`);
  }
}

/** Each secret of the source namespace that is a pull secret or labelled, and why it is or is not copied. */
export function sourceStatuses(secrets: readonly SecretLike[], policy: Policy): SourceStatus[] {
  const out: SourceStatus[] = [];
  for (const s of [...secrets].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ref = sourceRef(policy.sourceNamespace, s.metadata.name);
    if (isManaged(s)) {
      out.push({ name: s.metadata.name, ref, copied: false, state: 'ignored', reason: 'a copy made by pullsecret-operator: never copied again' });
      continue;
    }
    const c = classifySource(s, policy.registryHosts);
    if (c.kind === 'source') {
      const why = s.metadata.labels?.[COPY_LABEL] === 'true' ? `labelled ${COPY_LABEL}=true` : `a pull secret for ${c.hosts.join(', ')}`;
      out.push({ name: s.metadata.name, ref, copied: true, state: 'copied', reason: why });
    } else if (c.kind === 'invalid') out.push({ name: s.metadata.name, ref, copied: false, state: 'invalid', reason: `invalid: ${c.reason}` });
    else if (c.reason !== 'not a pull secret') out.push({ name: s.metadata.name, ref, copied: false, state: 'ignored', reason: c.reason });
  }
  return out;
}

/** Whether every namespace that should be covered is in sync: status's exit code 0. */
export function allCovered(statuses: readonly NamespaceStatus[]): boolean {
  return statuses.every((s) => s.state !== 'out-of-sync');
}

/** Namespaces by state, every state present (0 when none). */
export function countByState(statuses: readonly NamespaceStatus[]): Record<NamespaceStateName, number> {
  const out = Object.fromEntries(NAMESPACE_STATES.map((s) => [s, 0])) as Record<NamespaceStateName, number>;
  for (const s of statuses) out[s.state]++;
  return out;
}

/** Sources by state, every state present (0 when none). */
export function countSources(statuses: readonly SourceStatus[]): Record<SourceStateName, number> {
  const out = Object.fromEntries(SOURCE_STATES.map((s) => [s, 0])) as Record<SourceStateName, number>;
  for (const s of statuses) out[s.state]++;
  return out;
}
