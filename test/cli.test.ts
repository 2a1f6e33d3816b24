/** The command line: --version, --help, a clear error for a missing file, the demo's port fallback and SIGTERM. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.ts';
import { openConfiguredStore } from '../src/hub.ts';
import { VERSION } from '../src/version.ts';
import { login, PLANT_YAML, tempDir } from './helpers/hub.ts';
import { exited } from './helpers/processes.ts';
import { waitFor } from './helpers/services.ts';

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

it(
  'demo moves to a free HTTP port when 8080 is taken, and stops cleanly on SIGTERM',
  { timeout: 60_000 },
  async () => {
    // Hold 8080 (or find it held already: either way the demo must not fail on it).
    const holder = net.createServer();
    await new Promise<void>((resolve) => {
      holder.once('error', () => resolve());
      holder.listen(8080, '127.0.0.1', () => resolve());
    });
    const data = tempDir('mw-demo-cli-');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.resolve('src/cli/bin.ts'),
        'demo',
        '--data-dir',
        data.dir,
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const url = await waitFor(() => /UI and API +(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], {
        timeoutMs: 30_000,
        what: 'the demo banner',
      });
      assert.match(out, /port 8080 is taken; using a free port/);
      assert.notEqual(new URL(url).port, '8080');
      // The demo made its own administrator and printed its password, marked demo-only.
      assert.match(out, /DEMO ONLY/);
      const password = /user demo-admin, password (\S+)/.exec(out)?.[1];
      assert.ok(password, 'the demo prints the demo admin password');
      const res = await fetch(`${url}/api/v1/equipment`, {
        headers: await login(url, 'demo-admin', password),
      });
      assert.equal(res.status, 200);
      child.kill('SIGTERM');
      await exited(child);
      assert.equal(child.exitCode, 0);
      assert.match(out, /stopped: \d+ samples and \d+ events committed in this run/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise((r) => holder.close(r));
      data.remove();
    }
  },
);

it('audit verify reports ok with the row count, and the first broken row of a tampered trail', async () => {
  const tmp = tempDir('mw-audit-cli-');
  try {
    const file = path.join(tmp.dir, 'millwright.yaml');
    writeFileSync(file, `${PLANT_YAML}\ndataDir: ./data\n`);
    const { store } = await openConfiguredStore({
      config: parseConfig(`${PLANT_YAML}\ndataDir: ./data\n`),
      baseDir: tmp.dir,
    });
    await store.migrate();
    const entry = (i: number) => ({
      at: 1_700_000_000_000 + i,
      actor: 'user:alice',
      action: 'update',
      entityType: 'config',
      entityId: `c${i}`,
      changes: { n: { old: i, new: i + 1 } },
      reason: 'test',
    });
    await store.commit({
      samples: [],
      events: [],
      units: [],
      quarantine: [],
      audit: [entry(1), entry(2), entry(3)],
    });
    await store.close();

    const ok = cli('audit', 'verify', '-c', file);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 3 audit row\(s\) verified/);
    const head = /^head: (3:[0-9a-f]{64})$/m.exec(ok.stdout)?.[1];
    assert.ok(head, ok.stdout);
    const anchored = cli('audit', 'verify', '-c', file, '--expect', head);
    assert.equal(anchored.status, 0, anchored.stderr);
    assert.match(anchored.stdout, /expected head 3 found with its hash/);

    // Rows cut off the end leave a valid chain; only the anchor shows it.
    const cut = new Database(path.join(tmp.dir, 'data', 'millwright.db'));
    cut.exec('DROP TRIGGER audit_log_append_only_delete');
    cut.prepare('DELETE FROM audit_log WHERE seq = 3').run();
    cut.close();
    const truncated = cli('audit', 'verify', '-c', file, '--expect', head);
    assert.equal(truncated.status, 1);
    assert.match(truncated.stdout, /^ok: 2 audit row\(s\) verified/);
    assert.match(truncated.stderr, /expected row 3 is missing: rows were removed from the end/);

    // Behind the hub's back: someone with database rights drops the guard and edits row 2.
    const db = new Database(path.join(tmp.dir, 'data', 'millwright.db'));
    db.exec('DROP TRIGGER audit_log_append_only_update');
    db.prepare("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 2").run();
    db.close();
    const broken = cli('audit', 'verify', '-c', file);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /^broken at audit row 2: its content does not match its hash/);
  } finally {
    tmp.remove();
  }
});

it('users add creates the first admin from --password-stdin; the API opens only then', async () => {
  const tmp = tempDir('mw-users-cli-');
  try {
    const file = path.join(tmp.dir, 'millwright.yaml');
    writeFileSync(file, `${PLANT_YAML}\ndataDir: ./data\n`);
    const withInput = (input: string, ...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.resolve('src/cli/bin.ts'), ...args], {
        encoding: 'utf8',
        input,
      });
    const noTty = cli('users', 'add', 'alice', '--role', 'admin', '-c', file);
    assert.equal(noTty.status, 1);
    assert.equal(
      noTty.stderr,
      'error: no terminal to ask for the password on: pass it with --password-stdin\n',
    );
    const short = withInput(
      'short\n',
      'users',
      'add',
      'alice',
      '--role',
      'admin',
      '--password-stdin',
      '-c',
      file,
    );
    assert.equal(short.status, 1);
    assert.match(short.stderr, /MW_ERR_AUTH_PASSWORD_POLICY: password must be at least 12/);

    const badRole = cli('users', 'add', 'alice', '--role', 'wizard', '-c', file);
    assert.notEqual(badRole.status, 0);
    assert.match(badRole.stderr, /wizard.*(Allowed choices|choices)/is);

    const ok = withInput(
      'a long enough pass phrase\n',
      ...['users', 'add', 'alice', '--role', 'admin', '--full-name', 'Alice Example'],
      ...['--password-stdin', '-c', file],
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /created user alice \(Alice Example\): admin/);
    const again = withInput(
      'another long pass phrase\n',
      'users',
      'add',
      'alice',
      '--role',
      'viewer',
      '--password-stdin',
      '-c',
      file,
    );
    assert.equal(again.status, 1);
    assert.match(again.stderr, /MW_ERR_AUTH_USER_EXISTS/);
    const list = cli('users', 'list', '-c', file);
    assert.match(list.stdout, /^alice \(Alice Example\): admin\n1 user\(s\)/m);

    // The creation is in the audit trail, attributed to the OS user, with no password hash.
    const { store } = await openConfiguredStore({
      config: parseConfig(`${PLANT_YAML}\ndataDir: ./data\n`),
      baseDir: tmp.dir,
    });
    try {
      const rows = await store.listAudit({ entityType: 'user', entityId: 'alice', limit: 10 });
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.actor, /^cli:/);
      assert.equal(rows[0]!.action, 'create');
      assert.deepEqual(rows[0]!.changes.roles, { old: null, new: ['admin'] });
      assert.ok(!('passwordHash' in rows[0]!.changes));
    } finally {
      await store.close();
    }
  } finally {
    tmp.remove();
  }
});
