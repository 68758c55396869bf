/**
 * `cleanup` deletes a copy only as it was when listed as ours (issue 8): a copy an admin hands over
 * between cleanup's list and its delete (our label removed, the data theirs now) is left alone, by
 * the API server's resourceVersion precondition. The hand-over is made by the admin, on the real API
 * server, from inside the list call, so that it lands exactly in that window.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { cleanup } from '../../src/cleanup.js';
import { type Kube, createKube } from '../../src/kube/client.js';
import { createLogger } from '../../src/log.js';
import { MANAGED, Scenario, fixtureCopies, mergePatch } from '../harness/scenario.js';

describe('cleanup: the resourceVersion precondition', () => {
  const s = new Scenario('cleanup-rv');
  let kube: Kube & { close(): void };

  before(async () => {
    await s.setUp();
    const op = await s.startOperator();
    const ns = await s.namespace('a');
    await s.waitFor('copies', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
    await op.stop();
    s.operator = undefined;
    kube = await createKube(s.kc);
  });

  after(async () => {
    kube.close();
    await s.tearDown();
  });

  it('leaves alone a copy handed over between its list and its delete, and deletes the rest', async () => {
    const ns = `${s.id}-a`;
    const handedOver = `${ns}-us-icr-io`;
    let handed = false;
    const racing: Kube = {
      ...kube,
      listSecrets: async (namespace, opts) => {
        const page = await kube.listSecrets(namespace, opts);
        if (!handed) {
          handed = true;
          // The admin takes the copy over: our label goes, the data becomes theirs.
          await s.core.patchNamespacedSecret({ namespace: ns, name: handedOver, body: { metadata: { labels: { [MANAGED]: null } }, stringData: { note: 'mine now' } } }, mergePatch);
        }
        return page;
      },
    };
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l.trim())));
    const r = await cleanup(racing, createLogger('info', stream), false);
    assert.ok(handed, 'the hand-over happened inside the list');
    const left = await s.secret(ns, handedOver);
    assert.ok(left, 'the handed-over secret still exists');
    assert.equal(Buffer.from(left.data?.['note'] ?? '', 'base64').toString(), 'mine now');
    assert.deepEqual(await s.copies(ns), [], 'every other copy is deleted');
    // cleanup works cluster-wide, and other tests' copies may still be about: count this namespace's.
    const deletedHere = lines.filter((l) => l.includes('"copy deleted"') && l.includes(`"namespace":"${ns}"`)).length;
    assert.equal(deletedHere, fixtureCopies(ns).length - 1);
    assert.ok(r.secrets >= deletedHere);
    assert.ok(lines.some((l) => l.includes('secret left alone: no longer ours') && l.includes(handedOver)));
  });
});
