/**
 * The live side of "is this secret ours?" (src/domain/ownership.ts decides): the copies' cache
 * holds only our secrets, so a name it lacks is read from the API server. One GET per name, all
 * at once.
 */
import { type Owner, ownerOf } from '../domain/ownership.js';
import type { Kube } from '../kube/client.js';

/** Who holds `name` in `namespace` now. */
export async function liveOwner(kube: Pick<Kube, 'getSecret'>, namespace: string, name: string): Promise<Owner> {
  return ownerOf(await kube.getSecret(namespace, name));
}

/** The names among `names` held now by secrets that are not ours. */
export async function foreignNames(kube: Pick<Kube, 'getSecret'>, namespace: string, names: readonly string[]): Promise<Set<string>> {
  const owners = await Promise.all(names.map((n) => liveOwner(kube, namespace, n)));
  return new Set(names.filter((_, i) => owners[i] === 'foreign'));
}
