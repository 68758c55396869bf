/**
 * `npm run bench -- race`: the first-deploy race, measured. A namespace, a ServiceAccount and a
 * Pod of it are created back to back, as a chart's apply does; the pod takes its imagePullSecrets
 * from the ServiceAccount at that instant (the ServiceAccount admission plugin), so it has the pull
 * secrets only if the ServiceAccount already listed them. Counted for T such pods with an idle
 * queue and while L other namespaces arrive, with the operator alone and with its webhook
 * (--webhook-url on 127.0.0.1, registered by the operator itself: nothing installed first).
 * Usage: npm run bench -- race [--trials 40] [--load 300]
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { withSeededPlane } from './bench-plane.js';
import { freePort } from '../test/harness/kube.js';
import { startOperator } from '../test/harness/operator.js';

const COPIES = 5; // the IBM fixtures give five copies per namespace

export async function raceBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { trials: { type: 'string', default: '40' }, load: { type: 'string', default: '300' } } });
  const trials = Number(values.trials);
  const load = Number(values.load);
  await withSeededPlane('pso-bench-race-', async ({ plane, kc, core }) => {
    let seq = 0;

    /** One trial: namespace, ServiceAccount, Pod back to back; true when the pod lists every copy. */
    const trial = async (): Promise<boolean> => {
      const ns = `race-${seq++}`;
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'app' } } });
      const pod = await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: 'app' }, spec: { serviceAccountName: 'app', automountServiceAccountToken: false, containers: [{ name: 'app', image: 'us.icr.io/bench/app:1' }] } },
      });
      return (pod.spec?.imagePullSecrets ?? []).length >= COPIES;
    };
    const run = async (withLoad: boolean): Promise<number> => {
      let ok = 0;
      let done = false;
      const arriving = withLoad
        ? (async () => {
            for (let i = 0; i < load; i += 20) {
              await Promise.all(Array.from({ length: Math.min(20, load - i) }, () => core.createNamespace({ body: { metadata: { name: `load-${seq++}` } } })));
            }
            done = true;
          })()
        : Promise.resolve();
      for (let i = 0; i < trials; i++) if (await trial()) ok++;
      await arriving;
      if (withLoad && !done) throw new Error('load did not finish');
      return ok;
    };

    const rows: string[] = [];
    for (const webhook of [false, true]) {
      const port = await freePort();
      const args = ['--log-level', 'info', ...(webhook ? ['--webhook-url', `https://127.0.0.1:${port}`] : [])];
      const op = await startOperator({ kubeconfig: plane.kubeconfigPath, args });
      if (webhook) {
        // Registered once the caches synced; then wait until the API server calls it (in a namespace
        // that gets copies: the source namespace never does).
        await core.createNamespace({ body: { metadata: { name: 'race-probe' } } });
        for (let i = 0; ; i++) {
          const sa = await core.createNamespacedServiceAccount({ namespace: 'race-probe', body: { metadata: { name: `probe-${i}` } } });
          await core.deleteNamespacedServiceAccount({ namespace: 'race-probe', name: `probe-${i}` });
          if ((sa.imagePullSecrets ?? []).length > 0) break;
          await sleep(200);
        }
      }
      const idle = await run(false);
      const busy = await run(true);
      await op.stop();
      const label = webhook ? 'with the webhook' : 'without the webhook';
      rows.push(`| ${label} | ${idle} of ${trials} | ${busy} of ${trials} |`);
      console.error(`race: ${label}: idle ${idle}/${trials}, while ${load} namespaces arrive ${busy}/${trials}`);
      if (webhook) await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: 'pullsecret-operator' });
    }
    process.stdout.write(
      [
        `Pods that got the pull secrets, each created right after its namespace and ServiceAccount (${trials} per cell):`,
        '',
        `| operator | idle queue | while ${load} other namespaces arrive |`,
        '|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  });
}
