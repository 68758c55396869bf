/**
 * Names, labels and annotations the operator owns, and the rule that names a copy.
 * Pure: no I/O.
 */

/** Label that marks every copy as ours. Cleanup and ownership checks key on it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'pullsecret-operator';
/** The annotation/label prefix of the operator. */
export const PREFIX = 'pullsecret-operator.io/';
/** Annotation on a copy naming its source, as `namespace/name`. */
export const SOURCE_ANNOTATION = `${PREFIX}source`;
/**
 * Annotation on a copy whose source is gone (or no longer qualifies): when the operator first saw
 * it so, RFC 3339. The grace period counts from it, so it survives a restart and a failover.
 */
export const ORPHANED_SINCE_ANNOTATION = `${PREFIX}orphaned-since`;
/** Label on a source-namespace secret: "true" makes it a source whatever its hosts, "false" never. */
export const COPY_LABEL = `${PREFIX}copy`;
/** Annotation on a Namespace or ServiceAccount: "true" opts it out. */
export const OPT_OUT_ANNOTATION = `${PREFIX}opt-out`;
/**
 * Annotation on a ServiceAccount listing (comma-separated) the imagePullSecrets entries the
 * operator added. Only those are ever removed, so an entry the user added by hand is never taken away,
 * even when it has the same name as one of our copies.
 */
export const ADDED_ENTRIES_ANNOTATION = `${PREFIX}added-pull-secrets`;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True when `name` is a valid object name for a Secret (an RFC 1123 DNS subdomain). */
export function isValidSecretName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

export type TargetName = { ok: true; name: string } | { ok: false; name: string; reason: string };

/**
 * The name of the copy of `sourceName` in `namespace`, as IBM's docs name copies: each whole
 * dash-separated word `default` becomes the namespace (`default-us-icr-io` -> `team-a-us-icr-io`);
 * a name without that word is kept (`all-icr-io`).
 */
export function targetName(sourceName: string, namespace: string): TargetName {
  const name = sourceName
    .split('-')
    .map((word) => (word === 'default' ? namespace : word))
    .join('-');
  if (!isValidSecretName(name)) {
    return { ok: false, name, reason: `"${name}" is not a valid Secret name (RFC 1123 subdomain, at most 253 characters)` };
  }
  return { ok: true, name };
}

/** `namespace/name`, the form of the source annotation and of log fields. */
export function sourceRef(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Matches `value` against a glob with `*` (any run of characters) and `?` (one character). */
export function globMatch(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(value);
}
