/** The command line: --version, --help, and a clear error for a missing file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { VERSION } from '../src/version.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.resolve('src/cli/bin.ts'), ...args], {
    encoding: 'utf8',
  });

it('prints its version', () => {
  const r = cli('--version');
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), VERSION);
});

it('lists its commands in --help, and each command has --help', () => {
  const r = cli('--help');
  assert.equal(r.status, 0);
  for (const command of ['demo', 'run', 'check-config']) {
    assert.match(r.stdout, new RegExp(`\\n  ${command}`));
    const sub = cli(command, '--help');
    assert.equal(sub.status, 0, `${command} --help`);
    assert.match(sub.stdout, new RegExp(`Usage: millwright ${command}`));
  }
});

it('names a configuration file it cannot read', () => {
  const r = cli('run', '-c', 'does-not-exist.yaml');
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /error MW_ERR_CONFIG_READ: cannot read configuration file .*does-not-exist\.yaml/,
  );
});
