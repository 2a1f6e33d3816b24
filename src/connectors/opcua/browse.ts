/** `millwright browse opcua`: the children of a node with node id, browse name, data type, value. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttributeIds, BrowseDirection, DataType, NodeClass, resolveNodeId } from 'node-opcua';
import type { OpcuaConnectionConfig } from '../../config/schema.ts';
import { opcuaConnectionSchema } from './config.ts';
import { variantToTagValue } from './convert.ts';
import { openCertificateManager, opcuaPkiDir } from './pki.ts';
import { oneLine, openSession } from './session.ts';

export interface BrowseRow {
  readonly nodeId: string;
  readonly browseName: string;
  readonly nodeClass: string;
  /** Built-in data type of a variable, else empty. */
  readonly dataType: string;
  /** Current value of a variable as the hub would ingest it, else empty. */
  readonly value: string;
}

export interface BrowseOptions {
  readonly endpoint: string;
  /** Node whose children are listed; default the Objects folder. */
  readonly node?: string;
  /** Security and identity of a configured connection; default None, anonymous. */
  readonly connection?: OpcuaConnectionConfig;
  readonly dataDir?: string;
  readonly configDir?: string;
}

/** List the children of a node: node id, browse name, class, data type, value. */
export async function browseOpcua(options: BrowseOptions): Promise<BrowseRow[]> {
  const connection =
    options.connection === undefined
      ? opcuaConnectionSchema.parse({
          id: 'browse',
          type: 'opcua',
          endpoint: options.endpoint,
          securityMode: 'None',
        })
      : { ...options.connection, endpoint: options.endpoint };
  // Without a configuration there is no PKI to keep: a throw-away one for security None.
  const tmp =
    options.dataDir === undefined ? mkdtempSync(path.join(os.tmpdir(), 'mw-opcua-')) : null;
  const manager = await openCertificateManager(tmp ?? opcuaPkiDir(options.dataDir as string));
  try {
    const { client, session } = await openSession(
      connection,
      manager,
      {
        requestTimeoutMs: connection.requestTimeout,
        sessionTimeoutMs: connection.sessionTimeout,
        reconnect: { initialMs: 500, maxMs: 2000, jitter: 0.2 },
      },
      options.configDir ?? process.cwd(),
    );
    try {
      const result = await session.browse({
        nodeId: resolveNodeId(options.node ?? 'i=85'),
        browseDirection: BrowseDirection.Forward,
        includeSubtypes: true,
        resultMask: 63,
      });
      if (!result.statusCode.isGood())
        throw new Error(`browse ${options.node ?? 'i=85'}: ${result.statusCode.name}`);
      const refs = (result.references ?? []).filter((r) => r.isForward);
      const rows: BrowseRow[] = [];
      for (const r of refs) {
        const nodeId = r.nodeId.toString();
        let dataType = '';
        let value = '';
        if (r.nodeClass === NodeClass.Variable) {
          try {
            dataType = DataType[await session.getBuiltInDataType(r.nodeId)] ?? '';
            const dv = await session.read({ nodeId: r.nodeId, attributeId: AttributeIds.Value });
            value = dv.statusCode.isGood()
              ? JSON.stringify(variantToTagValue(dv.value, { dateTime: 'iso' }))
              : dv.statusCode.name;
          } catch (err) {
            value = `(${oneLine(err)})`;
          }
        }
        rows.push({
          nodeId,
          browseName: r.browseName.toString(),
          nodeClass: NodeClass[r.nodeClass] ?? String(r.nodeClass),
          dataType,
          value,
        });
      }
      return rows;
    } finally {
      await session.close().catch(() => undefined);
      await client.disconnect().catch(() => undefined);
    }
  } finally {
    await manager.dispose();
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}
