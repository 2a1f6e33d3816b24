/**
 * Peer of bench/connectors/opcua.ts, in its own process as a PLC would be: a node-opcua server
 * (security None, anonymous) with `variables` UInt32 variables `ns=1;s=V<i>`, all counting up
 * every `everyMs` (each change with a new source timestamp). Three per work unit: good, scrap
 * and total counters.
 *
 * Usage (forked by opcua.ts): opcua-server.ts <port> <pkiDir> <variables> <everyMs>
 * Sends `{ port }` when it listens, `{ changes }` (values set so far) after `{ count: true }`;
 * stops on SIGTERM.
 */
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  type UAVariable,
  Variant,
} from 'node-opcua';

const [portArg = '0', pkiDir = '', variablesArg = '1000', everyArg = '100'] = process.argv.slice(2);
const VARIABLES = Number(variablesArg);
const EVERY_MS = Number(everyArg);

const serverCertificateManager = new OPCUACertificateManager({
  rootFolder: pkiDir,
  automaticallyAcceptUnknownCertificate: true,
  disableFileWatchers: true,
});
const server = new OPCUAServer({
  port: Number(portArg),
  hostname: '127.0.0.1',
  alternateHostname: ['127.0.0.1'],
  serverCertificateManager,
  securityModes: [MessageSecurityMode.None],
  securityPolicies: [SecurityPolicy.None],
  allowAnonymous: true,
  buildInfo: { productName: 'millwright-bench-plc' },
});
await server.initialize();
const addressSpace = server.engine.addressSpace;
if (addressSpace === null) throw new Error('no address space');
const ns = addressSpace.getOwnNamespace();
const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Bench' });
const vars: UAVariable[] = [];
for (let i = 0; i < VARIABLES; i++) {
  const v = ns.addVariable({
    organizedBy: folder,
    browseName: `V${i}`,
    nodeId: `s=V${i}`,
    dataType: 'UInt32',
    // 0: monitored items sample on each change (exception-based), not on a timer.
    minimumSamplingInterval: 0,
  });
  v.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: 0 }));
  vars.push(v);
}
await server.start();

let value = 0;
let changes = 0;
const timer = setInterval(() => {
  value++;
  const variant = new Variant({ dataType: DataType.UInt32, value });
  for (const v of vars) v.setValueFromSource(variant);
  changes += vars.length;
}, EVERY_MS);

process.on('message', (m: { count?: boolean }) => {
  if (m.count === true) process.send?.({ changes });
});
process.once('SIGTERM', () => {
  clearInterval(timer);
  void server
    .shutdown(0)
    .then(() => serverCertificateManager.dispose())
    .finally(() => process.exit(0));
});
process.send?.({ port: Number(portArg) });
