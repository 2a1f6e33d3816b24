/** Child processes and ports for tests that run the hub or a broker as their own process. */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after } from 'node:test';

/** A TCP port free on 127.0.0.1 right now (for a peer that must be told its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Collects the children a test file starts and kills any still running when the file ends, so
 * a failing test leaves no process behind.
 */
export function childTracker(): (child: ChildProcess) => ChildProcess {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return (child) => {
    children.push(child);
    return child;
  };
}

/** Arguments for `node` to run `millwright run -c FILE` from the TypeScript sources. */
export function hubProcessArgs(configFile: string, ...extra: string[]): string[] {
  return [
    '--import',
    'tsx',
    path.resolve('src/cli/bin.ts'),
    'run',
    '-c',
    configFile,
    '--log-level',
    'warn',
    ...extra,
  ];
}
