import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WRITE_VERBS, requestsByVerb, samples, sum } from '../harness/metrics.js';

const TEXT = `# HELP apiserver_request_total Counter
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",resource="secrets",subresource="",verb="GET"} 5
apiserver_request_total{code="201",resource="secrets",subresource="",verb="POST"} 3
apiserver_request_total{code="200",resource="serviceaccounts",subresource="token",verb="POST"} 7
apiserver_request_total{code="200",resource="serviceaccounts",subresource="",verb="PATCH"} 2
apiserver_request_total_other 9
pullsecret_operator_leader 1
pullsecret_operator_informer_broken{informer="secrets, copies"} 0
`;

test('the metrics text reader: samples with their labels, sums, and requests by verb without subresources', () => {
  assert.deepEqual(samples(TEXT, 'pullsecret_operator_leader'), [{ name: 'pullsecret_operator_leader', labels: {}, value: 1 }]);
  assert.deepEqual(samples(TEXT, 'pullsecret_operator_informer_broken')[0]?.labels, { informer: 'secrets, copies' });
  assert.equal(sum(TEXT, 'apiserver_request_total'), 17, 'a metric whose name only starts the same is not counted');
  assert.equal(sum(TEXT, 'apiserver_request_total', (l) => l['subresource'] === ''), 10);
  assert.deepEqual(requestsByVerb(TEXT, ['secrets', 'serviceaccounts']), { GET: 5, POST: 3, PATCH: 2 });
  assert.equal(sum(TEXT, 'absent'), 0);
  assert.ok(WRITE_VERBS.includes('PATCH') && !WRITE_VERBS.includes('GET'));
});
