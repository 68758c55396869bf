import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Store, type Meta } from '../../src/kube/store.js';

const obj = (namespace: string | undefined, name: string, resourceVersion = '1'): Meta => ({ metadata: { name, resourceVersion, ...(namespace === undefined ? {} : { namespace }) } });

describe('Store', () => {
  it('reads one namespace from its index, or every object', () => {
    const s = new Store<Meta>();
    s.put(obj('a', 'x'));
    s.put(obj('a', 'y'));
    s.put(obj('b', 'x'));
    s.put(obj(undefined, 'cluster-scoped'));
    assert.deepEqual(s.list('a').map((o) => o.metadata.name), ['x', 'y']);
    assert.equal(s.list().length, 4);
    assert.equal(s.size, 4);
    assert.equal(s.get(undefined, 'cluster-scoped')?.metadata.name, 'cluster-scoped');
    assert.equal(s.get('b', 'y'), undefined);
  });

  it('put returns what it replaced; remove returns what it held, and a namespace goes with its last object', () => {
    const s = new Store<Meta>();
    assert.equal(s.put(obj('a', 'x', '1')), undefined);
    assert.equal(s.put(obj('a', 'x', '2'))?.metadata.resourceVersion, '1');
    assert.equal(s.size, 1);
    assert.equal(s.remove(obj('a', 'x'))?.metadata.resourceVersion, '2');
    assert.equal(s.remove(obj('a', 'x')), undefined);
    assert.deepEqual(s.list('a'), []);
    assert.equal(s.size, 0);
  });

  it('replace (a relist) returns deletes of what is gone, then adds, and updates of what changed resourceVersion', () => {
    const s = new Store<Meta>();
    s.put(obj('a', 'gone'));
    s.put(obj('a', 'same', '1'));
    s.put(obj('a', 'changed', '1'));
    const events = s.replace([obj('a', 'same', '1'), obj('a', 'changed', '2'), obj('b', 'new')]);
    assert.deepEqual(events.map((e) => `${e.type} ${e.obj.metadata.namespace ?? ''}/${e.obj.metadata.name}`), ['delete a/gone', 'update a/changed', 'add b/new']);
    assert.equal(s.size, 3);
    assert.equal(s.get('a', 'gone'), undefined);
  });
});
