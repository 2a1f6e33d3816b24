/**
 * OPC UA commands of `millwright`:
 *   millwright opcua trust -c CONFIG --connection ID [--all-rejected | FILE]
 *   millwright browse opcua ENDPOINT [--node ID] [-c CONFIG --connection ID]
 * node-opcua is loaded by the actions only, so the other commands start fast.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.ts';
import type { OpcuaConnectionConfig } from '../../config/schema.ts';
import { UsageError } from '../../cli/prompt.ts';
import { MwError } from '../../errors.ts';
import type { BrowseRow } from './browse.ts';

interface ConfigOpts {
  config: string;
  connection: string;
  dataDir?: string;
}

/** The OPC UA connection of a configuration file, with its data and config folders. */
export function opcuaConnectionOf(opts: ConfigOpts): {
  connection: OpcuaConnectionConfig;
  dataDir: string;
  configDir: string;
} {
  const loaded = loadConfigFile(opts.config);
  const connection = loaded.config.connections.find((c) => c.id === opts.connection);
  if (connection?.type !== 'opcua')
    throw new MwError('MW_ERR_CONNECTION_NOT_FOUND', {
      id: `${opts.connection} (an opcua connection in ${opts.config})`,
    });
  const dataDir =
    opts.dataDir !== undefined
      ? path.resolve(opts.dataDir)
      : path.resolve(loaded.baseDir, loaded.config.dataDir);
  return { connection, dataDir, configDir: loaded.baseDir };
}

function formatRows(rows: readonly BrowseRow[]): string {
  const header: BrowseRow = {
    nodeId: 'NODE ID',
    browseName: 'BROWSE NAME',
    nodeClass: 'CLASS',
    dataType: 'DATA TYPE',
    value: 'VALUE',
  };
  const all = [header, ...rows];
  const keys = ['nodeId', 'browseName', 'nodeClass', 'dataType'] as const;
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  return all
    .map((r) =>
      [...keys.map((k, i) => r[k].padEnd(widths[i] as number)), r.value].join('  ').trimEnd(),
    )
    .join('\n');
}

function subcommand(parent: Command, name: string, description: string): Command {
  return (
    parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description)
  );
}

/** Add `opcua trust` and `browse opcua` to the millwright command. */
export function registerOpcuaCommands(program: Command): void {
  subcommand(program, 'opcua', 'OPC UA client connections')
    .command('trust [file]')
    .description(
      "trust an OPC UA server certificate: a file of the hub's PKI rejected folder (as printed by the hub) or one handed over by the server's admin, or every rejected one",
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--connection <id>', 'id of the OPC UA connection')
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .option('--all-rejected', 'trust every certificate in the rejected folder')
    .action(async (file: string | undefined, opts: ConfigOpts & { allRejected?: boolean }) => {
      if ((file === undefined) === (opts.allRejected !== true))
        throw new UsageError('opcua trust: name one certificate FILE or give --all-rejected');
      const { dataDir } = opcuaConnectionOf(opts);
      const { opcuaPkiDir, trustCertificates } = await import('./pki.ts');
      const pkiDir = opcuaPkiDir(dataDir);
      const trusted = await trustCertificates(
        pkiDir,
        file === undefined ? { allRejected: true } : { file },
      );
      for (const name of trusted) console.log(`trusted ${name}`);
      console.log(
        `${trusted.length} certificate(s) now in ${path.join(pkiDir, 'trusted', 'certs')}; a running hub uses them at its next connection attempt`,
      );
    });

  subcommand(program, 'browse', 'browse the address space of a device')
    .command('opcua <endpoint>')
    .description(
      'list the children of an OPC UA node (default: the Objects folder) with node id, browse name, data type and value',
    )
    .option('--node <nodeId>', 'node to browse', 'i=85')
    .option('-c, --config <file>', 'configuration file, for the security settings of --connection')
    .option(
      '--connection <id>',
      'OPC UA connection whose security mode, policy and identity to use',
    )
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .action(
      async (
        endpoint: string,
        opts: { node: string; config?: string; connection?: string; dataDir?: string },
      ) => {
        let configured: ReturnType<typeof opcuaConnectionOf> | undefined;
        if (opts.config !== undefined || opts.connection !== undefined) {
          if (opts.config === undefined || opts.connection === undefined)
            throw new UsageError('browse opcua: -c and --connection go together');
          configured = opcuaConnectionOf({
            config: opts.config,
            connection: opts.connection,
            dataDir: opts.dataDir,
          });
        }
        const { browseOpcua } = await import('./browse.ts');
        const rows = await browseOpcua({
          endpoint,
          node: opts.node,
          connection: configured?.connection,
          dataDir: configured?.dataDir,
          configDir: configured?.configDir,
        });
        console.log(formatRows(rows));
      },
    );
}
