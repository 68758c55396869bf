/**
 * Desired state: which namespaces are targets, which sources exist, what each copy and each
 * ServiceAccount's imagePullSecrets should be. Pure: no I/O, no clock (time is passed in).
 */
import { createHash } from 'node:crypto';
import {
  ADDED_ENTRIES_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  OPT_OUT_ANNOTATION,
  SOURCE_ANNOTATION,
  globMatch,
  sourceRef,
} from './naming.js';
import { isManaged } from './ownership.js';
import { type Selector, matchesSelector } from './selector.js';
import { classifySource } from './sources.js';
import type { LocalObjectReference, NamespaceLike, SecretLike, ServiceAccountLike } from './types.js';

/** The part of the configuration that decides desired state. */
export interface Policy {
  sourceNamespace: string;
  registryHosts: readonly string[];
  /** Glob patterns of namespaces that never get copies (kube-system, kube-public, kube-node-lease are always added). */
  excludeNamespaces: readonly string[];
  namespaceSelector: Selector;
  /** ServiceAccounts that get our entries: 'all', or these names. */
  serviceAccounts: 'all' | readonly string[];
  orphanGraceMs: number;
  /** A source whose data (decoded, all keys) is larger is not copied (reported as invalid). */
  maxSourceBytes: number;
}

export const ALWAYS_EXCLUDED: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export type NamespaceVerdict =
  /** Copies belong here. */
  | { kind: 'target' }
  /** No copies belong here: ours are removed. */
  | { kind: 'cleanup'; reason: 'excluded' | 'not-selected' | 'opted-out' }
  /** Not ours to touch at all: no writes. */
  | { kind: 'hands-off'; reason: 'gone' | 'terminating' | 'source-namespace' };

export function isTerminating(ns: NamespaceLike): boolean {
  return Boolean(ns.metadata.deletionTimestamp) || ns.status?.phase === 'Terminating';
}

export function isOptedOut(obj: { metadata: { annotations?: Record<string, string> } }): boolean {
  return obj.metadata.annotations?.[OPT_OUT_ANNOTATION]?.trim().toLowerCase() === 'true';
}

export function namespaceVerdict(ns: NamespaceLike | undefined, policy: Policy): NamespaceVerdict {
  if (!ns) return { kind: 'hands-off', reason: 'gone' };
  if (isTerminating(ns)) return { kind: 'hands-off', reason: 'terminating' };
  const name = ns.metadata.name;
  if (name === policy.sourceNamespace) return { kind: 'hands-off', reason: 'source-namespace' };
  if ([...ALWAYS_EXCLUDED, ...policy.excludeNamespaces].some((p) => globMatch(p, name))) return { kind: 'cleanup', reason: 'excluded' };
  if (!matchesSelector(policy.namespaceSelector, ns.metadata.labels)) return { kind: 'cleanup', reason: 'not-selected' };
  if (isOptedOut(ns)) return { kind: 'cleanup', reason: 'opted-out' };
  return { kind: 'target' };
}

export interface Source {
  name: string;
  /** `namespace/name`, as written in the source annotation. */
  ref: string;
  type: string;
  data: Record<string, string>;
  /** dataHash(data), computed once per change of the sources. */
  dataHash: string;
}

export interface SourceSet {
  /** Valid sources, sorted by name. */
  valid: Source[];
  /** Pull secrets that would be sources but do not parse: reported, never copied, their copies kept as they are. */
  invalid: { name: string; ref: string; reason: string }[];
}

/** Classifies every secret of the source namespace. */
export function collectSources(secrets: readonly SecretLike[], policy: Policy): SourceSet {
  const valid: Source[] = [];
  const invalid: SourceSet['invalid'] = [];
  for (const s of [...secrets].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (s.metadata.namespace !== policy.sourceNamespace) continue;
    if (isManaged(s)) continue; // never copy a copy
    const c = classifySource(s, policy.registryHosts, policy.maxSourceBytes);
    const ref = sourceRef(policy.sourceNamespace, s.metadata.name);
    if (c.kind === 'source') valid.push({ name: s.metadata.name, ref, type: s.type ?? '', data: { ...(s.data ?? {}) }, dataHash: dataHash(s.data) });
    else if (c.kind === 'invalid') invalid.push({ name: s.metadata.name, ref, reason: c.reason });
  }
  return { valid, invalid };
}

/** The copy of `source` named `name` in `namespace`: the source's type and data, our label and source annotation, nothing else. */
export function desiredCopy(source: Source, namespace: string, name: string): SecretLike {
  return {
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SOURCE_ANNOTATION]: source.ref },
    },
    type: source.type,
    data: { ...source.data },
  };
}

/**
 * A hash of a secret's data (keys sorted): what a cached copy holds instead of its data. Equal
 * hashes mean equal data; an absent data and an empty one are the same.
 */
export function dataHash(data: Record<string, string> | undefined): string {
  const h = createHash('sha256');
  for (const k of Object.keys(data ?? {}).sort()) h.update(`${JSON.stringify(k)}:${JSON.stringify((data ?? {})[k])},`);
  return h.digest('base64');
}

/** The hash of a copy's data: the one computed at ingest, or of the data it carries (tests). */
export function copyDataHash(s: SecretLike): string {
  return s.dataHash ?? dataHash(s.data);
}

export function serviceAccountSelected(sa: ServiceAccountLike, policy: Policy): boolean {
  return policy.serviceAccounts === 'all' || policy.serviceAccounts.includes(sa.metadata.name);
}

/** The names recorded in a ServiceAccount's added-entries annotation. */
export function addedEntries(sa: ServiceAccountLike): Set<string> {
  const raw = sa.metadata.annotations?.[ADDED_ENTRIES_ANNOTATION] ?? '';
  return new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

export interface PullSecretsChange {
  imagePullSecrets: LocalObjectReference[];
  /** The new value of the added-entries annotation; null removes it. */
  added: string | null;
}

/**
 * The ServiceAccount's imagePullSecrets with exactly `wanted` of ours on it, or null when nothing changes.
 * - Entries we did not add stay exactly where they were, in their order.
 * - Entries we added (per the annotation) that are no longer wanted are removed.
 * - Wanted names that are missing are appended, in the order given; nothing is duplicated.
 */
export function pullSecretsChange(sa: ServiceAccountLike, wanted: readonly string[]): PullSecretsChange | null {
  const current = sa.imagePullSecrets ?? [];
  const added = addedEntries(sa);
  const want = new Set(wanted);
  const kept = current.filter((e) => !(e.name !== undefined && added.has(e.name) && !want.has(e.name)));
  const present = new Set(kept.map((e) => e.name));
  const appended = wanted.filter((n, i) => !present.has(n) && wanted.indexOf(n) === i);
  const next = [...kept.map((e) => ({ ...e })), ...appended.map((name) => ({ name }))];
  const nowAdded = [...new Set([...[...added].filter((n) => want.has(n) && present.has(n)), ...appended])].sort();
  const nextAnnotation = nowAdded.length > 0 ? nowAdded.join(',') : null;
  const currentAnnotation = sa.metadata.annotations?.[ADDED_ENTRIES_ANNOTATION] ?? null;
  const sameList = next.length === current.length && next.every((e, i) => e.name === current[i]?.name);
  if (sameList && nextAnnotation === currentAnnotation) return null;
  return { imagePullSecrets: next, added: nextAnnotation };
}
