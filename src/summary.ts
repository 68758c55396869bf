/** The --once summary: a table of namespaces, copies and ServiceAccounts patched. */
import type { NamespaceSummary } from './controller/reconciler.js';

export function formatSummary(summaries: readonly NamespaceSummary[], dryRun: boolean): string {
  const rows = [...summaries].sort((a, b) => a.namespace.localeCompare(b.namespace));
  const head = ['NAMESPACE', 'STATE', 'COPIES', dryRun ? 'WRITES (PLANNED)' : 'WRITES', 'SERVICEACCOUNTS PATCHED', 'PROBLEMS'];
  const body = rows.map((o) => [
    o.namespace,
    o.verdict,
    o.copies.join(',') || '-',
    String(o.writes),
    o.serviceAccountsPatched.join(',') || '-',
    o.problems.join('; ') || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const writes = rows.reduce((n, o) => n + o.writes, 0);
  const problems = rows.filter((o) => o.problems.length > 0).length;
  return [line(head), ...body.map(line), '', `${rows.length} namespaces, ${writes} writes${dryRun ? ' planned (dry run)' : ''}, ${problems} with problems`, ''].join('\n');
}

/** In sync: no namespace has a problem, and in a dry run nothing would be written. */
export function inSync(summaries: readonly NamespaceSummary[], dryRun: boolean): boolean {
  return summaries.every((o) => o.problems.length === 0 && (!dryRun || o.writes === 0));
}
