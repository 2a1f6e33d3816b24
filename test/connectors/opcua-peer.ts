/**
 * A real OPC UA server (node-opcua) as the test peer of the OPC UA connector: a counter that
 * counts, a state, a writable setpoint and a temperature that can fail (BadSensorFailure).
 * Its PKI lives in a folder the test file creates once, so the certificate is made only once.
 */
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  type ServerSession,
  ServiceFault,
  StatusCodes,
  type UAVariable,
  Variant,
  VariantArrayType,
} from 'node-opcua';

export const NODES = {
  good: 'ns=1;s=Line1.Filler.Good',
  state: 'ns=1;s=Line1.Filler.State',
  setpoint: 'ns=1;s=Line1.Filler.Setpoint',
  temperature: 'ns=1;s=Line1.Capper.Temperature',
  big: 'ns=1;s=Line1.Filler.Big',
} as const;

export interface PeerOptions {
  readonly port: number;
  readonly pkiDir: string;
  readonly securityModes?: MessageSecurityMode[];
  readonly securityPolicies?: SecurityPolicy[];
  /** User name → password; anonymous is refused when given. */
  readonly users?: Readonly<Record<string, string>>;
  /** false: the server answers TransferSubscriptions with BadServiceUnsupported (older servers). */
  readonly transferSubscriptions?: boolean;
  /** Period of the counter (ms). */
  readonly countEveryMs?: number;
}

/** What survives a restart of the peer, as a PLC's retentive memory. */
export interface PeerMemory {
  good: number;
  state: number;
  setpoint: number;
}

export interface Peer {
  readonly server: OPCUAServer;
  readonly endpoint: string;
  readonly memory: PeerMemory;
  readonly sessions: ServerSession[];
  /** TransferSubscriptions requests answered BadServiceUnsupported. */
  readonly refusedTransfers: number;
  variable(name: keyof typeof NODES): UAVariable;
  setState(state: number): void;
  failSensor(): void;
  stop(): Promise<void>;
}

export async function startPeer(
  options: PeerOptions,
  memory: PeerMemory = { good: 0, state: 1, setpoint: 0 },
): Promise<Peer> {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: options.pkiDir,
    automaticallyAcceptUnknownCertificate: true,
    disableFileWatchers: true,
  });
  // X.509 user certificates: accepted when the server has seen them (its own trust list).
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: `${options.pkiDir}/users`,
    automaticallyAcceptUnknownCertificate: true,
    disableFileWatchers: true,
  });
  const users = options.users;
  const server = new OPCUAServer({
    userCertificateManager,
    port: options.port,
    hostname: '127.0.0.1',
    alternateHostname: ['127.0.0.1'],
    serverCertificateManager,
    securityModes: options.securityModes ?? [MessageSecurityMode.None],
    securityPolicies: options.securityPolicies ?? [SecurityPolicy.None],
    allowAnonymous: users === undefined,
    userManager:
      users === undefined
        ? undefined
        : { isValidUser: (name: string, password: string) => users[name] === password },
    buildInfo: { productName: 'millwright-test-plc' },
  });
  await server.initialize();
  let refusedTransfers = 0;
  if (options.transferSubscriptions === false) {
    // node-opcua dispatches each request to `_on_<RequestName>` of the server object.
    const handlers = server as unknown as Record<
      string,
      (
        message: unknown,
        channel: { send_response(t: string, r: unknown, m: unknown): void },
      ) => void
    >;
    handlers._on_TransferSubscriptionsRequest = (message, channel) => {
      refusedTransfers++;
      const fault = new ServiceFault({
        responseHeader: { serviceResult: StatusCodes.BadServiceUnsupported },
      });
      channel.send_response('MSG', fault, message);
    };
  }
  const addressSpace = server.engine.addressSpace;
  if (addressSpace === null) throw new Error('no address space');
  const ns = addressSpace.getOwnNamespace();
  const objects = addressSpace.rootFolder.objects;
  const add = (s: string, dataType: DataType, value: unknown, writable = false): UAVariable => {
    const v = ns.addVariable({
      organizedBy: objects,
      browseName: s.replace(/^.*\./, ''),
      nodeId: `s=${s}`,
      dataType: DataType[dataType],
      accessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      minimumSamplingInterval: 10,
    });
    v.setValueFromSource(new Variant({ dataType, arrayType: VariantArrayType.Scalar, value }));
    return v;
  };
  const vars = {
    good: add('Line1.Filler.Good', DataType.UInt32, memory.good),
    state: add('Line1.Filler.State', DataType.Int32, memory.state),
    setpoint: add('Line1.Filler.Setpoint', DataType.Double, memory.setpoint, true),
    temperature: add('Line1.Capper.Temperature', DataType.Double, 21.5),
    big: add('Line1.Filler.Big', DataType.UInt64, [0x00200000, 5]),
  };
  vars.setpoint.on('value_changed', (dv) => {
    memory.setpoint = Number(dv.value.value);
  });
  const sessions: ServerSession[] = [];
  server.on('create_session', (session) => sessions.push(session));
  await server.start();
  const timer = setInterval(() => {
    memory.good++;
    vars.good.setValueFromSource(new Variant({ dataType: DataType.UInt32, value: memory.good }));
  }, options.countEveryMs ?? 50);
  return {
    server,
    endpoint: `opc.tcp://127.0.0.1:${options.port}`,
    memory,
    sessions,
    get refusedTransfers() {
      return refusedTransfers;
    },
    variable: (name) => vars[name],
    setState(state) {
      memory.state = state;
      vars.state.setValueFromSource(new Variant({ dataType: DataType.Int32, value: state }));
    },
    failSensor() {
      vars.temperature.setValueFromSource(
        new Variant({ dataType: DataType.Double, value: 0 }),
        StatusCodes.BadSensorFailure,
      );
    },
    async stop() {
      clearInterval(timer);
      await server.shutdown(0);
      await serverCertificateManager.dispose();
      await userCertificateManager.dispose();
    },
  };
}
