/**
 * Roles and permissions, and the one check every entry point uses (`authorize`): the HTTP
 * routes declare the permission they need and the CLI commands call the same services, which
 * check it here. Pure data and logic: no I/O.
 *
 * Permissions name an action on a kind of record. Later issues add theirs here (orders, lots,
 * inspections …); a role is a fixed list so that who-may-do-what is reviewable in one table
 * (docs/security.md prints it).
 */
import { MwError } from '../errors.ts';

export const PERMISSIONS = {
  'equipment.read': 'Read equipment, live states, counters and events.',
  'samples.read': 'Read raw tag samples and the quarantine.',
  'config.read': 'Read the configuration and mappings.',
  'config.write': 'Change the configuration and mappings.',
  'production.record': 'Record production and assign downtime reasons on the shop floor.',
  'orders.read': 'Read work orders and their progress.',
  'orders.import':
    'Send orders and material data into the hub (REST JSON or B2MML), as an ERP does.',
  'orders.manage': 'Release, start, hold and close work orders; edit downtime reasons.',
  'outbox.read': 'See the messages to enterprise targets and their delivery state.',
  'outbox.manage': 'Replay or discard dead messages to enterprise targets.',
  'quality.inspect': 'Record inspections and place quality holds.',
  'quality.release': 'Release quality holds and lots.',
  'audit.read': 'Read, verify and export the audit trail.',
  'signatures.read': 'List the electronic signatures of a record.',
  'signatures.sign': 'Sign a record electronically (re-authenticating).',
  'users.read': 'List users and roles.',
  'users.manage': 'Create, change, disable and unlock users; set their passwords.',
  'tokens.manage': 'Create, list and revoke API tokens.',
  'ingest.write': 'Send data into the hub through its APIs.',
  'tags.write': 'Write values to device tags (order numbers, recipes, setpoints).',
  'connections.read': 'See connections, their health and live tag values.',
  'metrics.read': 'Scrape the Prometheus metrics at /metrics.',
  'mqtt.publish': 'Connect to the embedded MQTT broker and publish.',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

const READ: Permission[] = ['equipment.read', 'signatures.read', 'connections.read', 'orders.read'];

export const ROLES = {
  admin: {
    description: 'Everything, including users, tokens and the audit trail.',
    permissions: ALL_PERMISSIONS,
  },
  engineer: {
    description: 'Configuration and mappings; sees raw samples and the quarantine.',
    permissions: [
      ...READ,
      'samples.read',
      'config.read',
      'config.write',
      'tags.write',
      'metrics.read',
      'signatures.sign',
      'outbox.read',
      'outbox.manage',
    ],
  },
  supervisor: {
    description: 'Orders and downtime reasons for the plant; the ERP message queue.',
    permissions: [
      ...READ,
      'production.record',
      'orders.import',
      'orders.manage',
      'outbox.read',
      'outbox.manage',
      'tags.write',
      'signatures.sign',
    ],
  },
  operator: {
    description: 'Records production and assigns downtime reasons on the line.',
    permissions: [...READ, 'production.record', 'signatures.sign'],
  },
  quality: {
    description: 'Inspections, holds and release; reviews the audit trail.',
    permissions: [
      ...READ,
      'samples.read',
      'quality.inspect',
      'quality.release',
      'audit.read',
      'signatures.sign',
    ],
  },
  viewer: {
    description: 'Reads equipment, states, counters and events.',
    permissions: [...READ],
  },
  integration: {
    description:
      'Machine clients (API tokens for an ERP, MQTT clients): send data and orders, read equipment, orders and the outbox.',
    permissions: [
      'equipment.read',
      'orders.read',
      'orders.import',
      'outbox.read',
      'connections.read',
      'ingest.write',
      'mqtt.publish',
      'metrics.read',
    ],
  },
} as const satisfies Record<string, { description: string; permissions: readonly Permission[] }>;

export type Role = keyof typeof ROLES;

export const ROLE_NAMES = Object.keys(ROLES) as Role[];

export function isRole(name: string): name is Role {
  return Object.hasOwn(ROLES, name);
}

export function isPermission(name: string): name is Permission {
  return Object.hasOwn(PERMISSIONS, name);
}

export function permissionsOf(roles: readonly Role[]): Set<Permission> {
  return new Set(roles.flatMap((r) => ROLES[r].permissions));
}

/** Who is acting: a logged-in user, an API token, or the local command line. */
export interface Principal {
  readonly kind: 'user' | 'token' | 'local';
  /** As written in the audit trail: `user:alice`, `token:<id>`, `cli:<os user>`. */
  readonly actor: string;
  /** The user name (a token's: its owner's). */
  readonly username: string;
  readonly permissions: ReadonlySet<Permission>;
  /** The session behind a user principal, for logout. */
  readonly sessionId?: string;
}

/**
 * The one permission check. The CLI runs as a local principal with every permission: whoever
 * can run it on the hub machine can read the store's files or credentials and so already has
 * full control (as with `gitea admin` or `grafana cli admin`); its actions are audited as
 * `cli:<os user>`.
 */
export function authorize(principal: Principal, permission: Permission): void {
  if (!principal.permissions.has(permission)) {
    throw new MwError('MW_ERR_AUTH_FORBIDDEN', { actor: principal.actor, permission });
  }
}
