/**
 * `millwright users add|list|passwd|disable|enable|unlock`: users straight from the configured
 * store, as the local principal `cli:<os user>` (whoever can run it on the hub machine can read
 * the store anyway); every change is audited.
 */
import { Option, type Command } from 'commander';
import { IdentityService, localPrincipal, type UserView } from '../compliance/identity.ts';
import { ROLE_NAMES } from '../compliance/roles.ts';
import { readNewPassword } from './prompt.ts';
import { withStore, type StoreOpts } from './with-store.ts';

export function registerUsersCommands(program: Command): void {
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
}

/** Open the configured store for a command, run it with the identity service, close. */
function withIdentity(
  opts: StoreOpts,
  fn: (identity: IdentityService) => Promise<void>,
): Promise<void> {
  return withStore(opts, (store, config) =>
    fn(new IdentityService(store, { security: config.security })),
  );
}
