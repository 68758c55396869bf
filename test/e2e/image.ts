/**
 * The operator image the end-to-end tests run: the one the image test builds with podman
 * (`npm run test:image`), found in podman's local storage.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function ensureOperatorImage(): Promise<string> {
  const image = process.env.PSO_E2E_IMAGE ?? 'localhost/pullsecret-operator:test-node24';
  const exists = await run('podman', ['image', 'exists', image]).then(
    () => true,
    () => false,
  );
  if (!exists) throw new Error(`${image} is not in podman's storage: run npm run test:image first`);
  return image;
}
