/**
 * The one registry of Millwright's error codes (STYLE.md rule 11).
 *
 * Each code is defined once here with its HTTP status, message template and the text that
 * `docs/errors.md` shows (meaning and fix). `test/docs.test.ts` keeps that doc in step.
 * A retired code is never reused: move it to `retiredCodes` instead of deleting it.
 */

export interface ErrorDefinition {
  /** HTTP status when the error reaches an API client. */
  readonly status: number;
  /** Message template; `{name}` is replaced by the parameter of that name. */
  readonly message: string;
  /** What it means and how to fix it (docs/errors.md). */
  readonly fix: string;
}

export const errorDefinitions = {
  MW_ERR_CONFIG_READ: {
    status: 500,
    message: 'cannot read configuration file {file}: {reason}',
    fix: 'Check the path given with -c/--config and that the file is readable.',
  },
  MW_ERR_CONFIG_YAML: {
    status: 400,
    message: '{file} (line {line}, col {col}): YAML syntax error: {reason}',
    fix: 'Fix the YAML syntax at the position shown (indentation, quoting, a missing colon).',
  },
  MW_ERR_CONFIG_INVALID: {
    status: 400,
    message: '{file}: {count} configuration error(s)',
    fix: 'Each error names the YAML path, its line and column and the rule broken; see docs/configuration.md for every field.',
  },
  MW_ERR_CONFIG_ENV: {
    status: 400,
    message: '{path}: environment variable {name} is not set',
    fix: 'Set the variable named in ${NAME} in the environment of the millwright process, or write the value in the file.',
  },
  MW_ERR_BROKER_PORT_IN_USE: {
    status: 500,
    message: 'embedded MQTT broker: port {port} on {host} is already in use',
    fix: 'Free the port, choose another `broker.port`, or leave `broker.port` unset so the hub picks a free port.',
  },
  MW_ERR_BROKER_EXPOSED: {
    status: 500,
    message: 'embedded MQTT broker: {problem}',
    fix: 'Bind broker.host to 127.0.0.1, or set broker.tls (certificate and key) and broker.authentication: hub.',
  },
  MW_ERR_HTTP_PORT_IN_USE: {
    status: 500,
    message: 'HTTP API: port {port} on {host} is already in use',
    fix: 'Free the port or pass another one (--port, or `http.port` in the configuration).',
  },
  MW_ERR_STORE_UNAVAILABLE: {
    status: 503,
    message: 'store {store} is unavailable: {reason}',
    fix: 'Check that the database is reachable with the configured URL or path; the hub retries and reports the store in /api/v1/health.',
  },
  MW_ERR_STORE_MIGRATION: {
    status: 500,
    message: 'store {store}: migration {migration} failed: {reason}',
    fix: 'The schema could not be brought up to date. Read the reason; the migration ran in a transaction and left nothing half-applied.',
  },
  MW_ERR_STORE_COMMIT: {
    status: 503,
    message: 'store {store}: commit of a batch of {count} item(s) failed: {reason}',
    fix: 'The batch was not acknowledged to its sources, which will deliver it again. Check the store health.',
  },
  MW_ERR_STORE_REJECTED: {
    status: 500,
    message: 'store {store} refused this input (alone, {attempts} times): {reason}',
    fix: 'The rest of its batch was stored; this one input was set aside so it cannot hold up the others. Read the reason and the payload, fix the cause (often a value the database cannot hold), then replay it: POST /api/v1/quarantine/{id}/replay.',
  },
  MW_ERR_STORE_CONFLICT: {
    status: 409,
    message: '{entity} was changed meanwhile (read version {expected}, now {found})',
    fix: 'Someone else changed the record after you read it. Read it again and repeat the change.',
  },
  MW_ERR_INGEST_QUEUE_FULL: {
    status: 503,
    message: 'ingest queue is full ({limit} items waiting)',
    fix: 'The store cannot keep up or is away. Sources are slowed down (MQTT acknowledgements are held) until it catches up.',
  },
  MW_ERR_INGEST_PAYLOAD_TOO_LARGE: {
    status: 413,
    message: 'payload of {size} bytes exceeds the limit of {limit} bytes',
    fix: 'Raise `maxPayloadBytes` on the connection, or make the device publish smaller messages.',
  },
  MW_ERR_INGEST_PAYLOAD_INVALID: {
    status: 400,
    message: 'payload is not valid {format}: {reason}',
    fix: 'Check what the device publishes, or the binding `payload.format`.',
  },
  MW_ERR_INGEST_VALUE_TYPE: {
    status: 400,
    message: '{field}: expected {expected}, got {actual}',
    fix: 'The value has the wrong type for the binding meaning (e.g. a counter needs a non-negative integer). Check the binding `payload.valuePath` and the device.',
  },
  MW_ERR_INGEST_NO_BINDING: {
    status: 404,
    message: 'topic {topic} matches no binding of connection {connection}',
    fix: 'Add a binding for the topic, or narrow what the device publishes. The message is kept in the quarantine.',
  },
  MW_ERR_INGEST_UNKNOWN_EQUIPMENT: {
    status: 404,
    message: 'binding resolved equipment {equipment}, which is not a work unit in the hierarchy',
    fix: 'Check the binding `equipment` template against the hierarchy in the configuration.',
  },
  MW_ERR_INGEST_UNMAPPED_STATE: {
    status: 400,
    message: 'state value {value} is not in the state map of the binding',
    fix: 'Add the value to the binding `stateMap`, or check the device.',
  },
  MW_ERR_INGEST_UNKNOWN_MATERIAL: {
    status: 400,
    message: 'bindings[{index}]: material "{material}" is not in the configuration’s materials',
    fix: 'Add the material (its id, uom and conversions) to `materials`, or map the device’s code to one through `materialSystem` (docs/mapping.md); then replay the quarantine entry.',
  },
  MW_ERR_INGEST_EXPRESSION: {
    status: 400,
    message: 'bindings[{index}] expression: {reason}',
    fix: 'Check the inputs the expression reads (their values and types) or correct the expression; see docs/expressions.md.',
  },
  MW_ERR_API_VALIDATION: {
    status: 400,
    message: '{path}: {rule}',
    fix: 'Correct the named request field.',
  },
  MW_ERR_API_NOT_FOUND: {
    status: 404,
    message: 'no route {method} {url}',
    fix: 'See /api/openapi.json for the available routes.',
  },
  MW_ERR_EQUIPMENT_NOT_FOUND: {
    status: 404,
    message: 'equipment {id} does not exist',
    fix: 'List equipment ids with GET /api/v1/equipment. Ids are paths such as acme/plant1/packaging/line1/filler.',
  },
  MW_ERR_AUTH_NO_ADMIN: {
    status: 503,
    message:
      'no administrator exists yet, so the API answers only /api/v1/health; create one on the hub machine: millwright users add NAME --role admin -c CONFIG',
    fix: 'Create the first administrator on the hub machine: `millwright users add NAME --role admin -c CONFIG` (asks for the password, or reads it with --password-stdin).',
  },
  MW_ERR_AUTH_REQUIRED: {
    status: 401,
    message: 'authentication required: {reason}',
    fix: 'Log in (POST /api/v1/auth/login) and send the session as `Authorization: Bearer <token>` (the UI uses a cookie), or send an API token the same way.',
  },
  MW_ERR_AUTH_FAILED: {
    status: 401,
    message: 'wrong user name or password',
    fix: 'Check both. After `security.lockout.attempts` failures in a row the account is locked for `security.lockout.duration`.',
  },
  MW_ERR_AUTH_LOCKED: {
    status: 423,
    message: 'account {user} is locked until {until} after {attempts} failed attempts',
    fix: 'Wait until the time shown, or ask an administrator to unlock it (POST /api/v1/users/{name}/unlock or `millwright users unlock NAME`).',
  },
  MW_ERR_AUTH_DISABLED: {
    status: 403,
    message: 'account {user} is disabled',
    fix: 'An administrator can enable it again (PATCH /api/v1/users/{name} with {"disabled": false}).',
  },
  MW_ERR_AUTH_RATE_LIMITED: {
    status: 429,
    message: 'too many login attempts for {key}; try again in {seconds} s',
    fix: 'Wait; the limit is `security.loginRateLimit` attempts per minute per user name and per client address.',
  },
  MW_ERR_AUTH_FORBIDDEN: {
    status: 403,
    message: '{actor} lacks the permission {permission}',
    fix: 'Ask an administrator for a role that grants it (GET /api/v1/roles lists roles and their permissions), or use a token scoped to it.',
  },
  MW_ERR_AUTH_PASSWORD_POLICY: {
    status: 400,
    message: 'password {rule}',
    fix: 'Choose a password that meets the policy in `security.passwords`.',
  },
  MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED: {
    status: 403,
    message: 'the password of {user} must be changed: {reason}',
    fix: 'Set a new one with POST /api/v1/auth/password (username, current and new password) or `millwright users passwd NAME`.',
  },
  MW_ERR_AUTH_USER_EXISTS: {
    status: 409,
    message:
      'user {user} already exists; user names are never reused, even after a user is disabled',
    fix: 'Choose another user name, or enable the existing user.',
  },
  MW_ERR_RECORD_NOT_FOUND: {
    status: 404,
    message: '{entity} {id} does not exist',
    fix: 'Check the id; list the records with the matching GET route.',
  },
  MW_ERR_TLS_CONFIG: {
    status: 500,
    message: '{where}: cannot use TLS {what} {file}: {reason}',
    fix: 'Point the setting at a readable PEM file (certificate chain and its private key).',
  },
  MW_ERR_TAG_WRITE: {
    status: 502,
    message: 'connection {connection}: writing {value} to {tag} failed: {reason}',
    fix: 'Read the reason from the device; check the tag address, its data type and that the device accepts writes.',
  },
  MW_ERR_TAG_WRITE_UNSUPPORTED: {
    status: 400,
    message: 'connection {connection} ({type}) cannot write tags',
    fix: 'Write through a connection whose protocol supports writes (OPC UA, MQTT, Sparkplug B, Modbus).',
  },
  MW_ERR_CONNECTION_NOT_FOUND: {
    status: 404,
    message: 'connection {id} does not exist',
    fix: 'List connections with GET /api/v1/connections.',
  },
  MW_ERR_OPCUA_NO_ENDPOINT: {
    status: 502,
    message:
      'connection {connection}: {endpoint} has no endpoint with security mode {mode} and policy {policy}; it offers: {offered}',
    fix: 'Set `securityMode` and `securityPolicy` of the connection to one of the pairs the server offers (listed in the message), or enable that pair on the server.',
  },
  MW_ERR_OPCUA_CERT_UNTRUSTED: {
    status: 502,
    message:
      'connection {connection}: the server certificate of {endpoint} ({subject}, SHA-1 {thumbprint}) is not trusted. If it is the right server, trust it: `millwright opcua trust -c <config file> --connection {connection} "{file}"`, or move that file into {trusted}',
    fix: 'Check the thumbprint against the server (its certificate settings page), then trust the certificate with `millwright opcua trust` or by moving the file from the PKI `rejected` folder to `trusted/certs`. The hub retries on its own and connects once the certificate is trusted.',
  },
  MW_ERR_OPCUA_CONNECT: {
    status: 502,
    message: 'connection {connection}: cannot connect to {endpoint}: {reason}',
    fix: 'Check that the server runs and is reachable, the user identity (`auth`) and that the server trusts the hub certificate (`<dataDir>/pki/opcua/own/certs`). The hub retries with backoff.',
  },
  MW_ERR_OPCUA_TRUST: {
    status: 400,
    message: 'opcua trust: {reason}',
    fix: 'Name a certificate file in the PKI `rejected` folder (as printed by the hub), or use --all-rejected.',
  },
  MW_ERR_AMQP_CONNECT: {
    status: 502,
    message: '{where}: cannot connect to the AMQP broker {url}: {reason}',
    fix: 'Check that the broker runs and is reachable at the URL (host, port, TLS), and the user name, password and vhost (RabbitMQ lets `guest` log in from loopback only). The hub retries with backoff and shows the state in its health.',
  },
  MW_ERR_AMQP_NOT_FOUND: {
    status: 502,
    message: '{where}: {what} does not exist on the AMQP broker {url}: {reason}',
    fix: 'Create it on the broker (or let the hub declare it: `declare`), or correct the name or address in the configuration.',
  },
  MW_ERR_MAPPING_UNKNOWN_CODE: {
    status: 404,
    message: '{owner} {kind} code "{code}" has no mapping (table {table})',
    fix: 'Add the code to the mapping table (PUT /api/v1/mappings/{system}/{kind}, see docs/mapping.md). Codes are never passed through unmapped.',
  },
  MW_ERR_MAPPING_NO_TABLE: {
    status: 404,
    message: '{owner} {kind} code "{code}" cannot be mapped: there is no mapping table {table}',
    fix: 'Create the table with PUT /api/v1/mappings/{system}/{kind} (docs/mapping.md); GET /api/v1/mappings lists the tables that exist.',
  },
  MW_ERR_MAPPING_INVALID: {
    status: 400,
    message: 'mapping table {table}: {first}{more}',
    fix: 'Correct the named line or entry and send the whole table again; nothing was changed. The details list every problem (docs/mapping.md lists the rules).',
  },
  MW_ERR_MAPPING_VERSION_MISMATCH: {
    status: 412,
    message:
      'mapping table {table} is at version {found}, not {expected} (version 0: no table); it was changed meanwhile',
    fix: 'Read the table again (GET returns its version in the ETag header and in "version"), apply your change to it and send it with the new version in If-Match.',
  },
  MW_ERR_CSV_INVALID: {
    status: 422,
    message: 'CSV {first}{more}',
    fix: 'Correct the named line and column and send the whole file again; nothing of it was imported. The details list every problem (the columns and rules are in docs/erp.md).',
  },
  MW_ERR_UOM_UNKNOWN_UNIT: {
    status: 400,
    message: 'unit {unit} is not in the unit catalog: {reason}',
    fix: 'Use an upper-case UN/CEFACT Rec 20 code listed in docs/units.md (KGM, LTR, H87…).',
  },
  MW_ERR_UOM_INVALID_QUANTITY: {
    status: 400,
    message: 'invalid quantity {quantity}: {reason}',
    fix: 'Give a decimal number such as 12.5 or 1.2e3; binary floats are not accepted.',
  },
  MW_ERR_UOM_NO_CONVERSION: {
    status: 400,
    message: 'cannot convert {from} ({fromDimension}) to {to} ({toDimension}) {reason}',
    fix: 'The units measure different things; add a conversion for the material (e.g. 1 LTR = 1.32 KGM) or use units of one dimension.',
  },
  MW_ERR_UOM_MATERIAL_CONVERSION: {
    status: 400,
    message: 'material {material}: conversion {conversion} is invalid: {reason}',
    fix: 'Fix the named entry: known units, two different dimensions, no temperatures, quantities > 0, no entry that disagrees with another.',
  },
  MW_ERR_QUARANTINE_REPLAYED: {
    status: 409,
    message: 'quarantine entry {id} was replayed already at {at}',
    fix: 'An entry is replayed once; a second replay would store its sample twice. GET /api/v1/quarantine shows replayedAt.',
  },
  MW_ERR_QUARANTINE_TRUNCATED: {
    status: 400,
    message: 'quarantine entry {id} kept only {kept} of its {size} bytes and cannot be replayed',
    fix: 'Raise `quarantine.payloadBytes` so whole payloads are kept, or have the device send the value again.',
  },
  MW_ERR_ORDER_INVALID: {
    status: 422,
    message: '{path}: {rule}',
    fix: 'The order was refused as a whole and nothing of its document was imported. Fix the field named (for an unmapped code add it to the mapping table named, docs/mapping.md) and send it again.',
  },
  MW_ERR_ORDER_TRANSITION: {
    status: 409,
    message: 'order {id} is {status}: cannot {action} it (allowed when {from})',
    fix: 'The order lifecycle is released → dispatched → running ⇄ held → completed → closed (docs/erp.md). Read the order and choose an action its status allows.',
  },
  MW_ERR_ORDER_LOCKED: {
    status: 409,
    message:
      'order {id} is {status}: an import may change an order only while it is released (it would change {fields})',
    fix: 'The shop floor works on the order already. Cancel it and release a new order, or send the unchanged order (an unchanged resend is accepted as a no-op).',
  },
  MW_ERR_LOT_INVALID: {
    status: 422,
    message: '{path}: {rule}',
    fix: 'Nothing was changed. Fix the field named and send the request again (docs/quality.md lists the lot and inspection fields).',
  },
  MW_ERR_LOT_NOT_FOUND: {
    status: 404,
    message: 'no material lot {id}{context}',
    fix: 'Nothing was changed. Check the lot number: GET /api/v1/lots lists the lots the hub knows; a raw-material lot comes from a goods receipt (POST /api/v1/lots, or a B2MML MaterialLot from the ERP).',
  },
  MW_ERR_LOT_EXISTS: {
    status: 409,
    message: 'material lot {id} exists already (material {material})',
    fix: 'Lot numbers are unique. Leave the id out to have one drawn from the numbering scheme (config `genealogy.lotNumbers`), or choose another.',
  },
  MW_ERR_LOT_QUANTITY: {
    status: 409,
    message: 'lot {id} holds {have} {uom}: cannot take {take} {uom}',
    fix: 'Nothing was changed. Take at most what the lot holds (GET /api/v1/lots/{id}); if the lot really holds more, correct it with a receipt of the difference first.',
  },
  MW_ERR_LOT_ON_HOLD: {
    status: 409,
    message: 'lot {id} is on quality hold {hold} ({reason}): it cannot be {action}',
    fix: 'A lot on hold does not move until a user with the quality role releases the hold with a reason and an electronic signature (POST /api/v1/lots/{id}/holds/{hold}/release, or the lot page).',
  },
  MW_ERR_LOT_STATUS: {
    status: 409,
    message: 'lot {id} is {status}: it cannot be {action}',
    fix: 'Only an available lot can be consumed, split, merged or shipped (docs/quality.md).',
  },
  MW_ERR_LOT_CYCLE: {
    status: 422,
    message:
      'linking lot {from} into lot {to} would close a cycle in the genealogy ({from} is made from {to} already)',
    fix: 'Nothing was changed. Material cannot flow back into a lot it was made of; for rework, produce a new lot from the reworked one.',
  },
  MW_ERR_HOLD_NOT_FOUND: {
    status: 404,
    message: 'no active quality hold {hold} on lot {id}',
    fix: 'GET /api/v1/lots/{id} lists the lot’s active holds; a hold released already cannot be released again.',
  },
  MW_ERR_INSPECTION_INVALID: {
    status: 422,
    message: '{path}: {rule}',
    fix: 'Nothing was recorded. Results name a characteristic of the inspection plan (config `quality.plans`) and give a number for a numeric one or pass/fail for an attribute.',
  },
  MW_ERR_OUTBOX_NOT_DEAD: {
    status: 409,
    message: 'outbox message {id} is {status}: only a dead message can be replayed or discarded',
    fix: 'GET /api/v1/outbox?status=dead lists the dead messages.',
  },
  MW_ERR_TARGET_NOT_FOUND: {
    status: 404,
    message: 'no enterprise target {id} (configured: {known})',
    fix: 'Targets are configured under `enterprise.targets` (docs/erp.md).',
  },
  MW_ERR_B2MML_TOO_LARGE: {
    status: 413,
    message: 'B2MML document of {size} bytes exceeds the limit of {limit} bytes',
    fix: 'Send smaller documents (one order or one material per file, as B2MML senders usually do) or raise the size limit of the receiving endpoint.',
  },
  MW_ERR_B2MML_DTD: {
    status: 400,
    message: 'B2MML document contains {what}: DTDs and entity declarations are refused',
    fix: 'Send the document without <!DOCTYPE …> and <!ENTITY …>: B2MML is defined by XML Schema and needs no DTD. They are refused so that no external entity is read and no entity is expanded (XXE, "billion laughs").',
  },
  MW_ERR_B2MML_MALFORMED: {
    status: 400,
    message: 'B2MML document is not well-formed XML: {reason}',
    fix: 'Fix the XML syntax at the line and column shown (an unclosed or mismatched tag, an unescaped "&" or "<", bytes that are not in the declared encoding).',
  },
  MW_ERR_B2MML_UNSUPPORTED: {
    status: 415,
    message: '{what} is not accepted; accepted: {accepted}',
    fix: 'Send what the error lists as accepted: a B2MML message whose root element and namespace decide its version (V0401, V0600, V0701) and the XSD it is validated against; orders come from production operations only (OperationsType Production).',
  },
  MW_ERR_B2MML_INVALID: {
    status: 422,
    message: '{path}: {reason}{more}',
    fix: 'The document does not validate against the B2MML XSD of its version; the message quotes libxml2 and names the element path. The details list every error; nothing of the document was imported.',
  },
  MW_ERR_B2MML_INCOMPLETE: {
    status: 422,
    message: '{path}: {reason}',
    fix: 'The document is valid B2MML but lacks what an import needs at the named element (e.g. the produced material and its quantity of an order); add it and send the document again. Nothing of it was imported.',
  },
  MW_ERR_INTERNAL_ERROR: {
    status: 500,
    message: 'internal error: {reason}',
    fix: 'A bug. The log has the stack; please report it with the log lines around it.',
  },
} as const satisfies Record<string, ErrorDefinition>;

/** Codes that existed once and must never be given to a new error. */
export const retiredCodes: readonly string[] = [];

export type ErrorCode = keyof typeof errorDefinitions;

export type ErrorParams = Record<string, string | number>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Every error Millwright raises on purpose: a stable code, an HTTP status and where it came from. */
export class MwError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: ErrorParams;
  /** Where the error came from: a YAML path, a request field, a connection or record id. */
  readonly path: string | undefined;
  /** Further errors carried by an aggregate (e.g. each configuration error). */
  readonly details: readonly string[];

  constructor(
    code: ErrorCode,
    params: ErrorParams = {},
    options: { path?: string; details?: readonly string[]; cause?: unknown } = {},
  ) {
    const def: ErrorDefinition = errorDefinitions[code];
    super(render(def.message, params), options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'MwError';
    this.code = code;
    this.status = def.status;
    this.params = params;
    this.path = options.path;
    this.details = options.details ?? [];
  }

  toJSON(): { code: ErrorCode; message: string; path?: string; details?: readonly string[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.path === undefined ? {} : { path: this.path }),
      ...(this.details.length === 0 ? {} : { details: this.details }),
    };
  }
}

export function isMwError(err: unknown): err is MwError {
  return err instanceof MwError;
}
