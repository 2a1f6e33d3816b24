/**
 * The `millwright` command: demo, run, check-config here; audit, users, tags, mapping, explain
 * and opcua in files of their own. Each command prints what it did; errors print their code and
 * where they came from, and exit non-zero.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Command, Option } from 'commander';
import { localPrincipal } from '../compliance/identity.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { registerOpcuaCommands } from '../connectors/opcua/cli.ts';
import { isMwError } from '../errors.ts';
import { startHub, type Hub } from '../hub.ts';
import { VERSION } from '../version.ts';
import { registerAuditCommands } from './audit.ts';
import { checkTargets } from './check-targets.ts';
import { demoErpConfig, seedDemoOrders } from './demo-erp.ts';
import { seedDemoLots } from './demo-quality.ts';
import { registerExplainCommand } from './explain.ts';
import { createLogger, type LogFormat } from './logger.ts';
import { registerMappingCommands } from './mapping.ts';
import { registerOutboxCommands } from './outbox.ts';
import { UsageError } from './prompt.ts';
import { registerTagsCommand } from './tags.ts';
import { registerUsersCommands } from './users.ts';

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
  const calendars = [...new Set(hub.kpi.calendarNames())];
  lines.push(
    `  Shifts       ${calendars.join('; ')}  (OEE by shift: ${hub.url ?? ''}/#oee, GET /api/v1/kpi/oee)`,
  );
  const units = hub.hierarchy.workUnits().length;
  lines.push(
    `  Equipment    ${units} work unit(s) on ${hub.hierarchy.all().filter((e) => e.level === 'workCenter').length} line(s)`,
  );
  for (const c of hub.connectors)
    lines.push(
      `  Connection   ${c.id} (${c.type}): ${c.health().status}${c.health().detail === null ? '' : `, ${c.health().detail}`}`,
    );
  for (const t of hub.config.targets)
    lines.push(
      `  Target       ${t.id} (${t.type}, ${t.mode}${'format' in t ? `, ${t.format}` : ''})`,
    );
  for (const i of hub.config.inbound) lines.push(`  Inbound      ${i.id} (${i.type})`);
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
    const dataDir = path.resolve(opts.dataDir);
    const config = demoErpConfig(loaded.config, dataDir);
    await runHub(
      config,
      loaded.baseDir,
      { ...opts, dataDir },
      'demo',
      opts.port !== undefined,
      async (hub) => [
        ...(await demoAdmin(hub)),
        ...seedDemoOrders(config),
        ...(await seedDemoLots(hub)),
      ],
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
    .option(
      '--connect',
      'also reach every enterprise target (HTTP, SOAP WSDL, folder, AMQP broker) without sending anything',
    )
    .action(async (opts: { config: string; connect?: boolean }) => {
      try {
        const { config, baseDir } = loadConfigFile(opts.config);
        const units = config.sites.flatMap((s) =>
          s.areas.flatMap((a) => a.lines.flatMap((l) => l.units)),
        ).length;
        console.log(
          `ok: ${opts.config}: ${config.sites.length} site(s), ${units} work unit(s), ${config.connections.length} connection(s), ${config.bindings.length} binding(s), ${config.targets.length} target(s), store ${config.store.type}`,
        );
        if (opts.connect === true && !(await checkTargets(config, baseDir))) process.exit(1);
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

  registerAuditCommands(program);

  registerTagsCommand(program);
  registerMappingCommands(program);
  registerOutboxCommands(program);
  registerExplainCommand(program);

  registerUsersCommands(program);
  registerOpcuaCommands(program);
  return program;
}

/** Run the command line; resolves when the command finished (long-running commands keep the process alive). */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram()
    .parseAsync([...argv])
    .catch(fail);
}
