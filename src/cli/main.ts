/**
 * The `millwright` command: demo, run, check-config. Each command prints what it did; errors
 * print their code and where they came from, and exit non-zero.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { IdentityService, localPrincipal, type UserView } from '../compliance/identity.ts';
import { ROLE_NAMES } from '../compliance/roles.ts';
import {
  actorFilter,
  AUDIT_EXPORT_FORMATS,
  auditExportLines,
  type AuditExportFormat,
} from '../compliance/audit-export.ts';
import { isMwError } from '../errors.ts';
import { openConfiguredStore, startHub, type Hub } from '../hub.ts';
import { timeParam } from '../server/schemas.ts';
import type { Store } from '../store/types.ts';
import { VERSION } from '../version.ts';
import { createLogger, type LogFormat } from './logger.ts';
import { readNewPassword, UsageError } from './prompt.ts';
import { registerExplainCommand } from './explain.ts';
import { registerTagsCommand } from './tags.ts';
import { registerMappingCommands } from './mapping.ts';
import { registerOpcuaCommands } from '../connectors/opcua/cli.ts';

export const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url));

function fail(err: unknown): never {
  if (isMwError(err)) {
    console.error(`error ${err.code}: ${err.message}`);
    for (const d of err.details) console.error(`  ${d}`);
  } else if (err instanceof UsageError) {
    console.error(`error: ${err.message}`);
  } else {
    console.error(`error: ${(err as Error).stack ?? String(err)}`);
  }
  process.exit(1);
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`--port: expected a port number 0–65535, got "${value}"`);
  return n;
}

interface RunOptions {
  port?: number;
  dataDir?: string;
  logLevel?: string;
  logFormat: LogFormat;
}

function describeHub(hub: Hub, title: string): string {
  const lines = [`Millwright ${VERSION} ${title} is running`];
  lines.push(
    `  UI and API   ${hub.url ?? '(off)'}   (health ${hub.url ?? ''}/api/v1/health, OpenAPI ${hub.url ?? ''}/api/openapi.json)`,
  );
  if (hub.broker !== null)
    lines.push(
      `  MQTT broker  ${hub.broker.url} (embedded${hub.broker.portNote === null ? '' : `; ${hub.broker.portNote}`})`,
    );
  lines.push(`  Store        ${hub.store.kind} ${hub.store.location}`);
  const units = hub.hierarchy.workUnits().length;
  lines.push(
    `  Equipment    ${units} work unit(s) on ${hub.hierarchy.all().filter((e) => e.level === 'workCenter').length} line(s)`,
  );
  for (const c of hub.connectors)
    lines.push(
      `  Connection   ${c.id} (${c.type}): ${c.health().status}${c.health().detail === null ? '' : `, ${c.health().detail}`}`,
    );
  lines.push(`  Data         ${hub.dataDir}`);
  return lines.join('\n');
}

/**
 * The demo's own administrator, so `npx millwright demo` works out of the box without a default
 * password: created with a random password when the data folder has no administrator, and the
 * password printed this once.
 */
async function demoAdmin(hub: Hub): Promise<string[]> {
  if (await hub.identity.hasAdmin()) {
    return [
      '  Login        an administrator exists in this data folder (the demo printed its password when it created it; `millwright users passwd demo-admin -c … ` sets a new one)',
    ];
  }
  const password = randomBytes(12).toString('base64url');
  await hub.identity.createUser(localPrincipal(), {
    username: 'demo-admin',
    fullName: 'Demo Administrator',
    roles: ['admin'],
    password,
    reason: 'demo: created because the data folder had no administrator',
  });
  return [
    `  Login        user demo-admin, password ${password}`,
    '               DEMO ONLY: generated for this data folder and shown only now. A real',
    '               installation creates its first administrator with `millwright users add`.',
  ];
}

async function runHub(
  config: Config,
  baseDir: string,
  options: RunOptions,
  title: string,
  portExplicit: boolean,
  afterStart: (hub: Hub) => Promise<string[]> = async () => [],
): Promise<void> {
  const logger = createLogger(options.logLevel ?? config.logLevel, options.logFormat);
  let hub: Hub;
  try {
    hub = await startHub({
      config,
      baseDir,
      logger,
      httpPort: options.port,
      dataDir: options.dataDir,
    });
  } catch (err) {
    if (isMwError(err) && err.code === 'MW_ERR_HTTP_PORT_IN_USE' && !portExplicit) {
      console.log(
        `port ${options.port ?? config.http.port} is taken; using a free port (pass --port to choose one)`,
      );
      hub = await startHub({ config, baseDir, logger, httpPort: 0, dataDir: options.dataDir });
    } else {
      throw err;
    }
  }
  const extra = await afterStart(hub);
  console.log([describeHub(hub, title), ...extra, 'Press Ctrl+C to stop.'].join('\n'));
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (flushing the last batch, closing connections)…`);
    hub
      .stop()
      .then(() => {
        const s = hub.pipeline.snapshot();
        console.log(
          `stopped: ${s.committedSamples} samples and ${s.committedEvents} events committed in this run`,
        );
        process.exit(0);
      })
      .catch(fail);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** A time option: ISO 8601 or epoch ms, the same rule as the API's `from`/`to`. */
function parseTime(value: string): number {
  const result = timeParam.safeParse(value);
  if (!result.success)
    throw new InvalidArgumentError(result.error.issues[0]?.message ?? 'expected a time');
  return result.data;
}

interface AuditExportCliOptions {
  config: string;
  dataDir?: string;
  format: AuditExportFormat;
  out?: string;
  entity?: string;
  id?: string;
  user?: string;
  from?: number;
  to?: number;
}

/** Progress on stderr every this many rows of a long export. */
const AUDIT_EXPORT_PROGRESS_ROWS = 100_000;

/**
 * Write the export to --out (through FILE.partial, renamed when complete, so an interrupted
 * export never looks like a complete copy) or to stdout; the summary goes to stderr.
 */
async function exportAudit(store: Store, opts: AuditExportCliOptions): Promise<void> {
  let rows = 0;
  const lines = auditExportLines((query) => store.listAudit(query), {
    format: opts.format,
    filter: {
      entityType: opts.entity,
      entityId: opts.id,
      actor: opts.user === undefined ? undefined : actorFilter(opts.user),
      fromAt: opts.from,
      toAt: opts.to,
    },
    onRow: (n) => {
      rows = n;
      if (n % AUDIT_EXPORT_PROGRESS_ROWS === 0) console.error(`… ${n} audit row(s) exported`);
    },
  });
  const source = Readable.from(lines, { objectMode: false });
  if (opts.out === undefined) {
    await pipeline(source, process.stdout, { end: false });
  } else {
    const partial = `${opts.out}.partial`;
    try {
      await pipeline(source, createWriteStream(partial));
      renameSync(partial, opts.out);
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }
  }
  console.error(`exported ${rows} audit row(s) to ${opts.out ?? 'standard output'}`);
}

export function buildProgram(): Command {
  const program = new Command()
    .name('millwright')
    .description('MES integration hub: shop floor to ERP, ISA-95 Level 3')
    .version(VERSION, '-v, --version')
    .showHelpAfterError();

  const logOptions = (cmd: Command): Command =>
    cmd
      .addOption(
        new Option('--log-level <level>', 'log level').choices([
          'fatal',
          'error',
          'warn',
          'info',
          'debug',
          'trace',
        ]),
      )
      .addOption(
        new Option(
          '--log-format <format>',
          'log output: pretty for a terminal, json for a collector',
        )
          .choices(['pretty', 'json'])
          .default('pretty'),
      );

  logOptions(
    program
      .command('demo')
      .description(
        'run a simulated plant end to end: embedded MQTT broker, simulator, SQLite store, HTTP API and UI',
      )
      .option(
        '-p, --port <port>',
        'HTTP port (default 8080, or a free port when 8080 is taken)',
        parsePort,
      )
      .option(
        '-d, --data-dir <dir>',
        'where the demo keeps its data (kept across restarts)',
        './millwright-data',
      ),
  ).action(async (opts: RunOptions & { dataDir: string }) => {
    const loaded = loadConfigFile(DEMO_CONFIG);
    await runHub(
      loaded.config,
      loaded.baseDir,
      { ...opts, dataDir: path.resolve(opts.dataDir) },
      'demo',
      opts.port !== undefined,
      demoAdmin,
    );
  });

  logOptions(
    program
      .command('run')
      .description('run the hub from a configuration file')
      .requiredOption('-c, --config <file>', 'configuration file (YAML)')
      .option('-p, --port <port>', 'HTTP port (overrides http.port)', parsePort)
      .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)'),
  ).action(async (opts: RunOptions & { config: string }) => {
    const loaded = loadConfigFile(opts.config);
    await runHub(loaded.config, loaded.baseDir, opts, `(${opts.config})`, true);
  });

  program
    .command('check-config')
    .description(
      'validate a configuration file: every error with its YAML path, line, column and rule',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action((opts: { config: string }) => {
      try {
        const { config } = loadConfigFile(opts.config);
        const units = config.sites.flatMap((s) =>
          s.areas.flatMap((a) => a.lines.flatMap((l) => l.units)),
        ).length;
        console.log(
          `ok: ${opts.config}: ${config.sites.length} site(s), ${units} work unit(s), ${config.connections.length} connection(s), ${config.bindings.length} binding(s), store ${config.store.type}`,
        );
      } catch (err) {
        if (
          isMwError(err) &&
          (err.code === 'MW_ERR_CONFIG_INVALID' || err.code === 'MW_ERR_CONFIG_YAML')
        ) {
          console.error(`${opts.config}: ${err.details.length || 1} error(s)`);
          for (const d of err.code === 'MW_ERR_CONFIG_YAML' ? [err.message] : err.details)
            console.error(`  ${d}`);
          process.exit(1);
        }
        fail(err);
      }
    });

  const audit = program.command('audit').description('the audit trail');
  audit
    .command('verify')
    .description(
      "walk the audit trail's hash chain: ok with the row count, or the first broken row and why (exit 1)",
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML) naming the store')
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .option(
      '--expect <seq:hash>',
      'a head printed by an earlier verify: fail unless that row is still there with that hash (detects rows removed from the end)',
    )
    .action(async (opts: { config: string; dataDir?: string; expect?: string }) => {
      const expected =
        opts.expect === undefined ? undefined : /^(\d+):([0-9a-f]{64})$/.exec(opts.expect);
      if (expected === null) {
        throw new UsageError('--expect: expected SEQ:HASH as printed by an earlier `audit verify`');
      }
      const loaded = loadConfigFile(opts.config);
      const { store } = await openConfiguredStore({
        config: loaded.config,
        baseDir: loaded.baseDir,
        dataDir: opts.dataDir,
      });
      try {
        await store.migrate();
        const started = Date.now();
        const result = await store.verifyAudit();
        const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
        const rowAt = async (seq: number) =>
          seq < 1 ? undefined : (await store.listAudit({ afterSeq: seq - 1, limit: 1 }))[0];
        if (result.ok) {
          // The chain proves order and content, not that nothing was cut off its end: an
          // anchor kept elsewhere (this head, in a ticket or a log shipped off the machine) does.
          const head = await rowAt(result.count);
          console.log(
            `ok: ${result.count} audit row(s) verified in ${took} (${store.kind} ${store.location})`,
          );
          if (head !== undefined) console.log(`head: ${head.seq}:${head.hash}`);
          if (expected !== undefined) {
            const seq = Number(expected[1]);
            const row = await rowAt(seq);
            const problem =
              row?.seq !== seq
                ? `expected row ${seq} is missing: rows were removed from the end of the trail`
                : row.hash !== expected[2]
                  ? `row ${seq} does not have the expected hash: the trail was rewritten from there`
                  : null;
            if (problem !== null) {
              console.error(`broken: ${problem}`);
              process.exitCode = 1;
            } else {
              console.log(`expected head ${seq} found with its hash`);
            }
          }
        } else {
          console.error(
            `broken at audit row ${result.seq}: ${result.reason} (${result.count} row(s) before it verified, ${store.kind} ${store.location})`,
          );
          process.exitCode = 1;
        }
      } finally {
        await store.close();
      }
    });

  audit
    .command('export')
    .description(
      'copy the audit trail, or the rows matching the filters, oldest first, as CSV or JSON (21 CFR 11.10(b))',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML) naming the store')
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .addOption(
      new Option('--format <format>', 'csv (human readable) or json')
        .choices(AUDIT_EXPORT_FORMATS)
        .default('csv'),
    )
    .option('-o, --out <file>', 'write to this file (default: standard output)')
    .option('--entity <type>', 'only rows about this entity type')
    .option('--id <id>', 'only rows about this entity id')
    .option(
      '--user <actor>',
      'only rows by this user name (alice) or full actor (token:<id>, connection:<id>, cli:<name>, system)',
    )
    .option('--from <time>', 'only rows at or after this time (ISO 8601 or epoch ms)', parseTime)
    .option('--to <time>', 'only rows before this time (ISO 8601 or epoch ms)', parseTime)
    .action(async (opts: AuditExportCliOptions) => {
      const loaded = loadConfigFile(opts.config);
      const { store } = await openConfiguredStore({
        config: loaded.config,
        baseDir: loaded.baseDir,
        dataDir: opts.dataDir,
      });
      try {
        await store.migrate();
        await exportAudit(store, opts);
      } finally {
        await store.close();
      }
    });

  registerTagsCommand(program);
  registerMappingCommands(program);
  registerExplainCommand(program);

  const users = program
    .command('users')
    .description('users of the hub (run on the hub machine; audited as cli:<os user>)');
  const storeOptions = (cmd: Command): Command =>
    cmd
      .requiredOption('-c, --config <file>', 'configuration file (YAML) naming the store')
      .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)');
  const showUser = (u: UserView): string =>
    `${u.username} (${u.fullName}): ${u.roles.join(', ')}${u.disabled ? ', disabled' : ''}${u.locked ? ', locked' : ''}`;

  storeOptions(
    users
      .command('add <name>')
      .description('create a user; the first one must be an admin (--role admin)')
      .addOption(
        new Option('-r, --role <role...>', 'role(s) of the user')
          .choices(ROLE_NAMES)
          .makeOptionMandatory(),
      )
      .option('--full-name <name>', 'full name, printed with the user’s electronic signatures')
      .option(
        '--password-stdin',
        'read the password from the first line of stdin (else asked twice)',
      ),
  ).action(
    async (
      name: string,
      opts: StoreOpts & { role: string[]; fullName?: string; passwordStdin?: boolean },
    ) => {
      await withIdentity(opts, async (identity) => {
        const password = await readNewPassword(opts.passwordStdin === true, name);
        const u = await identity.createUser(localPrincipal(), {
          username: name,
          fullName: opts.fullName ?? name,
          roles: opts.role,
          password,
        });
        console.log(`created user ${showUser(u)}`);
      });
    },
  );

  storeOptions(users.command('list').description('list users')).action(async (opts: StoreOpts) => {
    await withIdentity(opts, async (identity) => {
      const all = await identity.listUsers(localPrincipal());
      for (const u of all) console.log(showUser(u));
      console.log(`${all.length} user(s)`);
    });
  });

  storeOptions(
    users
      .command('passwd <name>')
      .description('set a user’s password (a user other than you must change it at next login)')
      .option(
        '--password-stdin',
        'read the password from the first line of stdin (else asked twice)',
      ),
  ).action(async (name: string, opts: StoreOpts & { passwordStdin?: boolean }) => {
    await withIdentity(opts, async (identity) => {
      const password = await readNewPassword(opts.passwordStdin === true, name);
      await identity.setPassword(localPrincipal(), name, password);
      console.log(`password of ${name} set`);
    });
  });

  for (const [command, description, change] of [
    ['disable', 'disable a user (users are never deleted)', { disabled: true }],
    ['enable', 'enable a disabled user', { disabled: false }],
  ] as const) {
    storeOptions(
      users
        .command(`${command} <name>`)
        .description(description)
        .option('--reason <text>', 'why (recorded in the audit trail)'),
    ).action(async (name: string, opts: StoreOpts & { reason?: string }) => {
      await withIdentity(opts, async (identity) => {
        const u = await identity.updateUser(localPrincipal(), name, change, opts.reason);
        console.log(`${command}d user ${showUser(u)}`);
      });
    });
  }

  storeOptions(
    users
      .command('unlock <name>')
      .description('unlock a user locked after failed logins')
      .option('--reason <text>', 'why (recorded in the audit trail)'),
  ).action(async (name: string, opts: StoreOpts & { reason?: string }) => {
    await withIdentity(opts, async (identity) => {
      const u = await identity.unlock(localPrincipal(), name, opts.reason);
      console.log(`unlocked user ${showUser(u)}`);
    });
  });

  registerOpcuaCommands(program);
  return program;
}

interface StoreOpts {
  config: string;
  dataDir?: string;
}

/** Open the configured store for a command, run it with the identity service, close. */
async function withIdentity(
  opts: StoreOpts,
  fn: (identity: IdentityService) => Promise<void>,
): Promise<void> {
  const loaded = loadConfigFile(opts.config);
  const { store } = await openConfiguredStore({
    config: loaded.config,
    baseDir: loaded.baseDir,
    dataDir: opts.dataDir,
  });
  try {
    await store.migrate();
    await fn(new IdentityService(store, { security: loaded.config.security }));
  } finally {
    await store.close();
  }
}

/** Run the command line; resolves when the command finished (long-running commands keep the process alive). */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram()
    .parseAsync([...argv])
    .catch(fail);
}
