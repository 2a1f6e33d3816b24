/**
 * Stand-ins for an ERP on 127.0.0.1, port 0, for the HTTP-family target tests: a recording
 * HTTP(S) server, a SAP-Gateway-like OData service that demands its CSRF token and session
 * cookie, and an ERP-like SOAP service (ProductionConfirmationService) from soap.listen.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { listen as soapListen } from 'soap';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export type Handler = (req: Recorded, res: http.ServerResponse) => void;

export interface Peer {
  readonly url: string;
  readonly requests: Recorded[];
  close(): Promise<void>;
}

/** A server on 127.0.0.1:0 that records every request and answers with `handler`. */
export async function peer(handler: Handler, tls?: { cert: string; key: string }): Promise<Peer> {
  const requests: Recorded[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      const recorded = { ...r, body: Buffer.concat(chunks) };
      requests.push(recorded);
      handler(recorded, res);
    });
  };
  const server =
    tls === undefined
      ? http.createServer(onRequest)
      : https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A POST with nothing but a body, on a connection of its own. */
export function rawPost(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

// ---------------------------------------------------------------------------------------------
// OData

/**
 * A SAP-Gateway-like OData service under /sap/opu/odata4/zmes/: changes need the token of a
 * `x-csrf-token: Fetch` GET and the session cookie set with it, else 403 `x-csrf-token: Required`.
 */
export async function gateway(): Promise<Peer & { expire(): void; created: Recorded[] }> {
  const root = '/sap/opu/odata4/zmes';
  let n = 0;
  let token: string | null = null;
  let session: string | null = null;
  const created: Recorded[] = [];
  const valid = (req: Recorded): boolean =>
    token !== null &&
    req.headers['x-csrf-token'] === token &&
    String(req.headers.cookie ?? '').includes(`SAP_SESSIONID_MES=${session}`);
  const server = await peer((req, res) => {
    if (req.method === 'GET' && req.url.startsWith(root)) {
      if (req.headers['x-csrf-token'] === 'Fetch') {
        n += 1;
        token = `token-${n}`;
        session = `session-${n}`;
        res.setHeader('x-csrf-token', token);
        res.setHeader('set-cookie', [
          `SAP_SESSIONID_MES=${session}; path=/; HttpOnly`,
          'sap-usercontext=sap-client=100; path=/',
        ]);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
      return;
    }
    if (req.method !== 'POST') return void res.writeHead(405).end();
    if (!valid(req)) return void res.writeHead(403, { 'x-csrf-token': 'Required' }).end();
    if (req.url === `${root}/$batch`) {
      const { requests } = JSON.parse(req.body.toString()) as {
        requests: { id: string; url: string; body: { Material?: string } }[];
      };
      const responses = requests.map((r) =>
        r.body.Material === 'BAD'
          ? {
              id: r.id,
              status: 400,
              body: { error: { code: 'M7', message: 'material BAD unknown' } },
            }
          : { id: r.id, status: 201, body: {} },
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ responses }));
      return;
    }
    created.push(req);
    res.writeHead(201, { 'content-type': 'application/json' }).end(req.body);
  });
  return {
    ...server,
    url: `${server.url}${root}/`,
    created,
    expire: () => {
      token = `expired-${n}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// SOAP

const NS = 'urn:example:erp:production';

function field(name: string, type: string, optional = false): string {
  return `<xsd:element name="${name}" type="xsd:${type}"${optional ? ' minOccurs="0"' : ''}/>`;
}

const HEAD =
  ['MessageID', 'MessageType', 'OrderID'].map((n) => field(n, 'string')).join('') +
  field('EventTime', 'dateTime');

/** An ERP-like document/literal service with two operations, served at `location`. */
export function productionWsdl(location: string): string {
  const element = (name: string, fields: string): string =>
    `<xsd:element name="${name}"><xsd:complexType><xsd:sequence>${fields}</xsd:sequence></xsd:complexType></xsd:element>`;
  const ops = ['ConfirmOperation', 'PostGoodsReceipt'];
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions name="ProductionConfirmationService" targetNamespace="${NS}"
  xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:tns="${NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <types><xsd:schema targetNamespace="${NS}" elementFormDefault="qualified">
    ${element(
      'ConfirmOperation',
      HEAD +
        ['OperationID', 'Equipment', 'WorkUnit'].map((n) => field(n, 'string')).join('') +
        field('Yield', 'decimal') +
        field('Scrap', 'decimal') +
        field('UnitOfMeasure', 'string') +
        field('StartedAt', 'dateTime', true) +
        field('EndedAt', 'dateTime', true) +
        field('RunTimeMs', 'long') +
        field('Final', 'boolean'),
    )}
    ${element('ConfirmOperationResponse', field('ConfirmationID', 'string'))}
    ${element(
      'PostGoodsReceipt',
      HEAD +
        field('Material', 'string') +
        field('Quantity', 'decimal') +
        ['UnitOfMeasure', 'Lot', 'Equipment'].map((n) => field(n, 'string')).join(''),
    )}
    ${element('PostGoodsReceiptResponse', field('MaterialDocument', 'string'))}
  </xsd:schema></types>
  ${ops
    .map(
      (op) => `<message name="${op}Input"><part name="parameters" element="tns:${op}"/></message>
  <message name="${op}Output"><part name="parameters" element="tns:${op}Response"/></message>`,
    )
    .join('\n')}
  <portType name="ProductionConfirmationPortType">
    ${ops.map((op) => `<operation name="${op}"><input message="tns:${op}Input"/><output message="tns:${op}Output"/></operation>`).join('')}
  </portType>
  <binding name="ProductionConfirmationBinding" type="tns:ProductionConfirmationPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    ${ops.map((op) => `<operation name="${op}"><soap:operation soapAction="${NS}/${op}"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>`).join('')}
  </binding>
  <service name="ProductionConfirmationService">
    <port name="ProductionConfirmationPort" binding="tns:ProductionConfirmationBinding">
      <soap:address location="${location}"/>
    </port>
  </service>
</definitions>`;
}

export interface SoapCall {
  readonly operation: string;
  readonly args: Record<string, unknown>;
  readonly soapHeaders: Record<string, unknown> | undefined;
  readonly httpHeaders: http.IncomingHttpHeaders;
}

/** The service at /erp/production (WSDL at ?wsdl); /down answers 503 with an HTML page. */
export async function erpService(): Promise<{
  url: string;
  calls: SoapCall[];
  close(): Promise<void>;
}> {
  const calls: SoapCall[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const record =
    (operation: string, answer: (args: Record<string, unknown>) => unknown) =>
    (
      args: Record<string, unknown>,
      _cb: unknown,
      soapHeaders: Record<string, unknown> | undefined,
      req: http.IncomingMessage,
    ): unknown => {
      calls.push({ operation, args, soapHeaders, httpHeaders: req.headers });
      return answer(args);
    };
  soapListen(
    server,
    '/erp/production',
    {
      ProductionConfirmationService: {
        ProductionConfirmationPort: {
          ConfirmOperation: record('ConfirmOperation', () => ({ ConfirmationID: '100042' })),
          PostGoodsReceipt: record('PostGoodsReceipt', (args) => {
            if (args.Material === 'UNKNOWN')
              throw {
                Fault: {
                  faultcode: 'soap:Client',
                  faultstring: 'Material UNKNOWN does not exist in plant 1000',
                },
              };
            return { MaterialDocument: '4900000001' };
          }),
        },
      },
    },
    productionWsdl(`${url}/erp/production`),
  );
  return {
    url,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
