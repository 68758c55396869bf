/**
 * The informer's own loop logic (issue 8): liveness, zombie watches, relists after repeated
 * failures, and what counts as healthy. The API is scripted here because the subject is the loop's
 * bookkeeping; the real API server's side of each (bookmarks, 410, dead connections) is exercised by
 * test/integration/faults.test.ts and operator-robustness.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ListOptions, ListResult } from '../../src/kube/client.js';
import { Informer, type InformerStatus, type Meta } from '../../src/kube/informers.js';

type OnEvent = (type: string, obj: unknown) => void;
type Done = (err: unknown) => void;

interface WatchCall {
  query: Record<string, string | number | boolean>;
  onEvent: OnEvent;
  done: Done;
  aborted: boolean;
  /** Resolves the watch() promise (the handle), like a connection that is slow to start. */
  open(): void;
}

function harness(): {
  informer: Informer<Meta>;
  lists: ListOptions[];
  watches: WatchCall[];
  statuses: InformerStatus[];
  items: Meta[];
} {
  const lists: ListOptions[] = [];
  const watches: WatchCall[] = [];
  const statuses: InformerStatus[] = [];
  const items: Meta[] = [{ metadata: { name: 'a', resourceVersion: '1' } }];
  const informer = new Informer<Meta>({
    name: 'things',
    path: '/things',
    list: (o): Promise<ListResult<unknown>> => {
      lists.push(o);
      return Promise.resolve({ items: items.map((i) => ({ metadata: { ...i.metadata } })), resourceVersion: String(10 + lists.length) });
    },
    transform: ((raw: Meta) => raw),
    kube: {
      watch: (_path, query, onEvent, done) =>
        new Promise((resolve) => {
          const call: WatchCall = {
            query,
            onEvent,
            done,
            aborted: false,
            open: () => resolve({ abort: () => ((call.aborted = true), done(null)) }),
          };
          watches.push(call);
        }),
    },
    livenessMs: 60,
    backoffBaseMs: 1,
    backoffMaxMs: 2,
  });
  informer.onStatus((s) => statuses.push(s));
  return { informer, lists, watches, statuses, items };
}

const until = async (what: string, pred: () => boolean): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('Informer liveness and failures', () => {
  it('a watch that hears nothing for livenessMs is given up and a new one opened, with no LIST and no backoff', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    h.watches[0]?.open();
    await until('a second watch', () => h.watches.length === 2);
    assert.equal(h.watches[0]?.aborted, true, 'the silent one is closed');
    assert.equal(h.lists.length, 1, 'no relist');
    assert.ok(h.statuses.some((s) => s.type === 'watch-silent'));
    assert.equal(h.informer.brokenSince, undefined, 'one silence alone is not an error');
    await h.informer.stop();
  });

  it('watches silent twice in a row count as broken, from the last time anything was heard, and the next attempt relists; a bookmark ends it', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    const listedAt = performance.now();
    h.watches[0]?.open();
    await until('a second watch', () => h.watches.length === 2);
    assert.equal(h.informer.brokenSince, undefined);
    h.watches[1]?.open();
    await until('the second silence', () => h.statuses.filter((s) => s.type === 'watch-silent').length === 2);
    const since = h.informer.brokenSince;
    assert.ok(since !== undefined && since <= listedAt + 5, 'broken since the LIST, the last thing heard');
    await until('a relist', () => h.lists.length === 2);
    assert.equal(h.informer.brokenSince, since, 'a LIST that works does not end a silent-watch state');
    await until('a third watch', () => h.watches.length === 3);
    h.watches[2]?.open();
    h.watches[2]?.onEvent('BOOKMARK', { metadata: { resourceVersion: '50' } });
    assert.equal(h.informer.brokenSince, undefined, 'a bookmark is a sign of life');
    const silences = h.statuses.filter((s): s is Extract<InformerStatus, { type: 'watch-silent' }> => s.type === 'watch-silent').map((s) => s.silences);
    assert.deepEqual(silences, [1, 2]);
    await h.informer.stop();
  });

  it('a zombie watch (answered after it was given up) is aborted and never touches the cache', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    // Never opened before the liveness timer fires: the informer moves on to a second watch.
    await until('a second watch', () => h.watches.length === 2);
    const zombie = h.watches[0];
    zombie?.open();
    await until('the zombie aborted', () => zombie?.aborted === true);
    zombie?.onEvent('ADDED', { metadata: { name: 'ghost', resourceVersion: '99' } });
    zombie?.onEvent('DELETED', { metadata: { name: 'a', resourceVersion: '99' } });
    assert.equal(h.informer.get(undefined, 'ghost'), undefined);
    assert.ok(h.informer.get(undefined, 'a'), 'a is still cached');
    await h.informer.stop();
  });

  it('relists after three failures in a row that are not 410 (a resourceVersion the server keeps refusing)', async () => {
    const h = harness();
    h.informer.start();
    for (let i = 1; i <= 3; i++) {
      await until(`watch ${i}`, () => h.watches.length === i);
      h.watches[i - 1]?.done(new Error('504 Timeout: Too large resource version'));
    }
    await until('a relist', () => h.lists.length === 2);
    assert.deepEqual(h.watches.slice(0, 3).map((w) => w.query['resourceVersion']), ['11', '11', '11']);
    await until('a watch from the new list', () => h.watches.length === 4);
    assert.equal(h.watches[3]?.query['resourceVersion'], '12');
    await h.informer.stop();
  });

  it('healthy means data or a bookmark arrived: a watch merely answered does not clear brokenSince', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    h.watches[0]?.done(new Error('connection reset'));
    await until('second watch', () => h.watches.length === 2);
    const broken = h.informer.brokenSince;
    assert.ok(broken !== undefined);
    h.watches[1]?.open();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.informer.brokenSince, broken, 'a 200 with nothing in it is no sign of health');
    h.watches[1]?.onEvent('BOOKMARK', { metadata: { resourceVersion: '20' } });
    assert.equal(h.informer.brokenSince, undefined);
    await h.informer.stop();
  });

  it('a watch that ends at once with nothing heard counts as a failure, not a tight loop', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    h.watches[0]?.open();
    h.watches[0]?.done(null);
    await until('second watch', () => h.watches.length === 2);
    assert.ok(h.statuses.some((s) => s.type === 'error'), 'reported as an error, with backoff');
    await h.informer.stop();
  });

  it('honours the Retry-After of a refused watch in its backoff', async () => {
    const h = harness();
    h.informer.start();
    await until('first watch', () => h.watches.length === 1);
    h.watches[0]?.done(Object.assign(new Error('429'), { retryAfterMs: 150 }));
    await until('an error status', () => h.statuses.some((s) => s.type === 'error'));
    const s = h.statuses.find((x) => x.type === 'error');
    assert.equal(s?.type === 'error' ? s.retryInMs : -1, 150);
    await h.informer.stop();
  });
});
