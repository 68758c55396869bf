/** etcd: its flags for a one-member cluster on 127.0.0.1, and its health check. */
import { join } from 'node:path';

/** etcd's flags for a plane in `dir`: one member, client and peer on 127.0.0.1. */
export function etcdArgs(o: { dir: string; clientUrl: string; peerUrl: string }): string[] {
  return [
    '--name', 'pso-test',
    '--data-dir', join(o.dir, 'etcd-data'),
    '--listen-client-urls', o.clientUrl,
    '--advertise-client-urls', o.clientUrl,
    '--listen-peer-urls', o.peerUrl,
    '--initial-advertise-peer-urls', o.peerUrl,
    '--initial-cluster', `pso-test=${o.peerUrl}`,
    '--initial-cluster-state', 'new',
    '--unsafe-no-fsync',
    // As kubeadm configures production etcd: progress notifications every 5 s let the API
    // server's watch cache advance with no changes, which is what lets it send idle watches
    // their bookmarks (about once a minute).
    '--watch-progress-notify-interval', '5s',
  ];
}

/** GET <clientUrl>/health over plain HTTP; true on a 2xx. */
export async function etcdHealthy(clientUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}
