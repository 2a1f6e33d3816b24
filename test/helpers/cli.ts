/** Running the `millwright` command from tests. */
import { spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve('src/cli/bin.ts');

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run the CLI in a child process without blocking this one, which may serve the hub the
 * command talks to (spawnSync would deadlock it). `env` is added to this process's environment.
 */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Ran> {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': the output is complete only once the pipes are closed.
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout, stderr };
}
