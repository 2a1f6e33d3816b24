/**
 * Opening an OPC UA session the way every part of the hub does (the connector, its connection
 * test, `millwright browse opcua`): endpoint discovery, the explicit trust check of the server
 * certificate, then the secure channel and the session with the configured user identity.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type ClientSession,
  type EndpointDescription,
  MessageSecurityMode,
  OPCUAClient,
  type OPCUACertificateManager,
  SecurityPolicy,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua';
import type { OpcuaConnectionConfig } from '../../config/schema.ts';
import { MwError } from '../../errors.ts';
import {
  dropRejectedDuplicates,
  OPCUA_APPLICATION_NAME,
  readCertificate,
  rejectedFiles,
} from './pki.ts';

type SecuritySettings = Pick<
  OpcuaConnectionConfig,
  'id' | 'endpoint' | 'securityMode' | 'securityPolicy'
>;

export function securityPolicyName(c: Pick<SecuritySettings, 'securityMode' | 'securityPolicy'>) {
  return c.securityPolicy ?? (c.securityMode === 'None' ? 'None' : 'Basic256Sha256');
}

function modeName(mode: MessageSecurityMode): string {
  return MessageSecurityMode[mode] ?? String(mode);
}

function policyName(uri: string | null): string {
  return (uri ?? '').replace(/^.*#/, '');
}

/** One line from any error (node-opcua's messages span several lines). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((l) => l.trim() !== '') ?? text;
}

export interface ClientTimeouts {
  readonly requestTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** node-opcua's reconnection after a lost connection (initial/max delay, jitter). */
  readonly reconnect: { initialMs: number; maxMs: number; jitter: number };
}

export function createClient(
  settings: Pick<SecuritySettings, 'securityMode' | 'securityPolicy'>,
  certificateManager: OPCUACertificateManager,
  t: ClientTimeouts,
  reconnectOnFailure = true,
): OPCUAClient {
  return OPCUAClient.create({
    applicationName: OPCUA_APPLICATION_NAME,
    clientName: OPCUA_APPLICATION_NAME,
    clientCertificateManager: certificateManager,
    securityMode: MessageSecurityMode[settings.securityMode],
    securityPolicy: SecurityPolicy[securityPolicyName(settings)],
    endpointMustExist: false,
    keepSessionAlive: true,
    requestedSessionTimeout: t.sessionTimeoutMs,
    defaultTransactionTimeout: t.requestTimeoutMs,
    transportTimeout: t.requestTimeoutMs,
    // The first connection is tried twice, then retried by the connector (withBackoff); a lost
    // connection is retried by node-opcua without end, with these delays, so the session and
    // its subscriptions are restored (or recreated) in place. (maxRetry 0 would turn node-opcua's
    // reconnection off altogether: `reconnectOnFailure` needs maxRetry > 0.)
    connectionStrategy: {
      maxRetry: reconnectOnFailure ? 1 : 0,
      initialDelay: t.reconnect.initialMs,
      // node-opcua's backoff refuses a max delay that is not above the initial one.
      maxDelay: Math.max(t.reconnect.maxMs, t.reconnect.initialMs + 1),
      randomisationFactor: t.reconnect.jitter,
    },
  });
}

/** Ask the server for its endpoints (no security needed) and pick the configured one. */
export async function discoverEndpoint(
  settings: SecuritySettings,
  certificateManager: OPCUACertificateManager,
  t: ClientTimeouts,
): Promise<EndpointDescription> {
  const client = createClient({ securityMode: 'None' }, certificateManager, t, false);
  let endpoints: EndpointDescription[];
  try {
    await client.connect(settings.endpoint);
    endpoints = await client.getEndpoints();
  } finally {
    await client.disconnect().catch(() => undefined);
  }
  const mode = MessageSecurityMode[settings.securityMode];
  const policy = SecurityPolicy[securityPolicyName(settings)];
  const match = endpoints.find(
    (e) => e.securityMode === mode && e.securityPolicyUri === (policy as string),
  );
  if (match !== undefined) return match;
  const offered = [
    ...new Set(
      endpoints.map((e) => `${modeName(e.securityMode)}/${policyName(e.securityPolicyUri)}`),
    ),
  ];
  throw new MwError(
    'MW_ERR_OPCUA_NO_ENDPOINT',
    {
      connection: settings.id,
      endpoint: settings.endpoint,
      mode: settings.securityMode,
      policy: securityPolicyName(settings),
      offered: offered.join(', ') || 'nothing',
    },
    { path: `connections.${settings.id}.securityMode` },
  );
}

function leafOf(certificate: Buffer): Buffer {
  // A DER SEQUENCE with a two-byte length (0x82): the leaf is the first element of a chain.
  if (certificate[0] === 0x30 && certificate[1] === 0x82) {
    const length = certificate.readUInt16BE(2) + 4;
    return certificate.subarray(0, length);
  }
  return certificate;
}

/**
 * Refuse a server certificate that is not trusted explicitly. An unknown one is written to the
 * PKI `rejected` folder by the certificate manager; the error says how to trust it.
 */
export async function checkServerCertificate(
  settings: SecuritySettings,
  endpoint: EndpointDescription,
  certificateManager: OPCUACertificateManager,
): Promise<void> {
  if (settings.securityMode === 'None') return;
  const certificate = endpoint.serverCertificate;
  if (certificate === null || certificate.length === 0)
    throw new MwError('MW_ERR_OPCUA_CONNECT', {
      connection: settings.id,
      endpoint: settings.endpoint,
      reason: 'the endpoint has no server certificate',
    });
  // A trust given while an earlier attempt was refusing the certificate wins (see pki.ts).
  dropRejectedDuplicates(path.dirname(certificateManager.rejectedFolder));
  await certificateManager.reloadCertificates();
  const status = await certificateManager.checkCertificate(certificate);
  if (status.isGood()) return;
  if (status.name !== 'BadCertificateUntrusted')
    throw new MwError('MW_ERR_OPCUA_CONNECT', {
      connection: settings.id,
      endpoint: settings.endpoint,
      reason: `the server certificate is refused: ${status.name}`,
    });
  const leaf = leafOf(certificate);
  const pkiDir = path.dirname(certificateManager.rejectedFolder);
  const file =
    rejectedFiles(pkiDir).find((f) => {
      try {
        return leafOf(readCertificate(f)).equals(leaf);
      } catch {
        return false;
      }
    }) ?? certificateManager.rejectedFolder;
  let subject = 'unknown subject';
  try {
    subject = new X509Certificate(leaf).subject.replace(/\n/g, ', ');
  } catch {
    // shown as unknown
  }
  throw new MwError(
    'MW_ERR_OPCUA_CERT_UNTRUSTED',
    {
      connection: settings.id,
      endpoint: settings.endpoint,
      subject,
      thumbprint: createHash('sha1').update(leaf).digest('hex'),
      file,
      trusted: certificateManager.trustedFolder,
    },
    { path: `connections.${settings.id}` },
  );
}

export function userIdentityOf(
  c: Pick<OpcuaConnectionConfig, 'id' | 'endpoint' | 'auth'>,
  configDir: string,
): UserIdentityInfo {
  const auth = c.auth;
  switch (auth.type) {
    case 'anonymous':
      return { type: UserTokenType.Anonymous };
    case 'username':
      return { type: UserTokenType.UserName, userName: auth.username, password: auth.password };
    case 'certificate': {
      const read = (field: 'cert' | 'key', file: string): Buffer => {
        try {
          return field === 'cert'
            ? readCertificate(path.resolve(configDir, file))
            : readFileSync(path.resolve(configDir, file));
        } catch (err) {
          throw new MwError(
            'MW_ERR_OPCUA_CONNECT',
            {
              connection: c.id,
              endpoint: c.endpoint,
              reason: `auth.${field}: cannot read ${file}: ${oneLine(err)}`,
            },
            { path: `connections.${c.id}.auth.${field}` },
          );
        }
      };
      return {
        type: UserTokenType.Certificate,
        certificateData: read('cert', auth.cert),
        privateKey: read('key', auth.key).toString('utf8'),
      };
    }
  }
}

/** The endpoint must accept the configured kind of user identity (its userIdentityTokens). */
function checkUserTokenType(
  config: Pick<OpcuaConnectionConfig, 'id' | 'endpoint' | 'auth'>,
  endpoint: EndpointDescription,
): void {
  const wanted = {
    anonymous: UserTokenType.Anonymous,
    username: UserTokenType.UserName,
    certificate: UserTokenType.Certificate,
  }[config.auth.type];
  const offered = (endpoint.userIdentityTokens ?? []).map((p) => p.tokenType);
  if (offered.includes(wanted)) return;
  throw new MwError(
    'MW_ERR_OPCUA_CONNECT',
    {
      connection: config.id,
      endpoint: config.endpoint,
      reason: `the endpoint accepts no ${config.auth.type} user identity (auth.type); it accepts: ${
        offered.map((o) => UserTokenType[o]).join(', ') || 'none'
      }`,
    },
    { path: `connections.${config.id}.auth.type` },
  );
}

export interface OpenedSession {
  readonly client: OPCUAClient;
  readonly session: ClientSession;
  readonly endpoint: EndpointDescription;
}

/**
 * Discover, check the server certificate, connect and create the session. `prepare` may add
 * listeners to the client before it connects. Throws MwError with the reason.
 */
export async function openSession(
  config: Pick<
    OpcuaConnectionConfig,
    'id' | 'endpoint' | 'securityMode' | 'securityPolicy' | 'auth'
  >,
  certificateManager: OPCUACertificateManager,
  t: ClientTimeouts,
  configDir: string,
  prepare?: (client: OPCUAClient) => void,
): Promise<OpenedSession> {
  const identity = userIdentityOf(config, configDir);
  const fail = (err: unknown): MwError =>
    err instanceof MwError
      ? err
      : new MwError(
          'MW_ERR_OPCUA_CONNECT',
          { connection: config.id, endpoint: config.endpoint, reason: oneLine(err) },
          { cause: err },
        );
  let endpoint: EndpointDescription;
  try {
    endpoint = await discoverEndpoint(config, certificateManager, t);
    checkUserTokenType(config, endpoint);
    await checkServerCertificate(config, endpoint, certificateManager);
  } catch (err) {
    throw fail(err);
  }
  const client = createClient(config, certificateManager, t);
  prepare?.(client);
  try {
    await client.connect(config.endpoint);
    const session = await client.createSession(identity);
    return { client, session, endpoint };
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw fail(err);
  }
}
