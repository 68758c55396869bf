/**
 * The API server's audit log (JSON lines), as tests read it: who did what, judged from the API
 * server's own record rather than from the operator's log lines. The plane writes it with
 * `audit: true` (with-cluster.ts always does), under AUDIT_POLICY of control-plane.ts: every write to
 * secrets, serviceaccounts, leases and webhook configurations, and every request of the operator's
 * identities (the ServiceAccounts of their namespace), reads and watches included.
 */
import { open, stat } from 'node:fs/promises';

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** The audit log of a plane; `mark()` and `since()` read only what was written after a point. */
export class AuditLog {
  readonly path: string;

  constructor(path: string | undefined = process.env.PSO_TEST_AUDIT_LOG) {
    if (!path) throw new Error('no audit log: run under test/harness/with-cluster.ts (PSO_TEST_AUDIT_LOG)');
    this.path = path;
  }

  /** The current end of the log: pass it to since(). */
  async mark(): Promise<number> {
    return (await stat(this.path)).size;
  }

  /** Every event written after `offset` (0: all), one per stage the policy records. */
  async since(offset = 0): Promise<AuditEvent[]> {
    const f = await open(this.path, 'r');
    try {
      const { size } = await f.stat();
      const buf = Buffer.alloc(Math.max(0, size - offset));
      await f.read(buf, 0, buf.length, offset);
      return buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as AuditEvent);
    } finally {
      await f.close();
    }
  }
}

/** Events of one operator process: its user agent names its identity, `(<identity>)` or `(<identity>; webhook)`. */
export function byIdentity(events: readonly AuditEvent[], identity: string): AuditEvent[] {
  return events.filter((e) => (e.userAgent ?? '').includes(`(${identity})`) || (e.userAgent ?? '').includes(`(${identity};`));
}

/** Completed writes (not rejected before they reached storage: any answer counts as an attempt). */
export function writes(events: readonly AuditEvent[], resources: readonly string[] = ['secrets', 'serviceaccounts']): AuditEvent[] {
  return events.filter((e) => e.stage === 'ResponseComplete' && WRITE_VERBS.has(e.verb) && resources.includes(e.objectRef?.resource ?? ''));
}

/** Completed LISTs (the verb "list"; watches are "watch"). */
export function lists(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => e.stage === 'ResponseComplete' && e.verb === 'list');
}
