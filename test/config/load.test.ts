/** Configuration errors name the YAML path, line, column and rule; `check-config` exits non-zero. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { isMwError, type MwError } from '../../src/errors.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'test.yaml', env);
  } catch (err) {
    assert.ok(isMwError(err));
    return [...(err as MwError).details];
  }
  return [];
}

const BROKEN = `enterprise:
  id: acme
sites:
  - id: plant1
    timeZone: Europe/Nowhere
    areas:
      - id: packaging
        lines:
          - id: line1
            units:
              - id: filler
                idealCycleTime: fast
              - id: filler
connections:
  - id: m
    type: mqtt
    url: \${BROKER_URL}
    qos: 2
  - id: sim
    type: simulator
    publishTo: nowhere
bindings:
  - connection: m
    topic: plant/#/state
    meaning: state
    stateMapp: {}
`;

describe('configuration errors', () => {
  it('names every broken path with line, column and rule', () => {
    assert.deepEqual(problems(BROKEN), [
      'sites[0].timeZone (line 5, col 15): expected an IANA time zone such as "Europe/Berlin" or "UTC"',
      'sites[0].areas[0].lines[0].units[0].idealCycleTime (line 12, col 33): expected a duration like "1.5s"',
      'sites[0].areas[0].lines[0].units[1].id (line 13, col 21): duplicate unit id "filler"',
      'connections[0].url (line 17, col 10): environment variable BROKER_URL is not set',
      'connections[0].qos (line 18, col 10): expected one of 0, 1',
      'connections[1].publishTo (line 21, col 16): expected the id of an mqtt connection, "nowhere" is none',
      'bindings[0].topic (line 24, col 12): "#" must be the last level (level 2)',
      'bindings[0].stateMapp (line 26, col 5): unknown key "stateMapp" (not allowed here; check the spelling against docs/configuration.md)',
    ]);
  });

  it('substitutes ${ENV} and accepts a valid file', () => {
    const config = parseConfig(
      `${PLANT_YAML}\nconnections: [{ id: m, type: mqtt, url: '\${URL}', password: '\${PW}' }]\n`,
      't',
      {
        URL: 'mqtt://broker:1883',
        PW: 's3cret',
      },
    );
    const c = config.connections[0];
    assert.equal(c?.type === 'mqtt' ? c.url : undefined, 'mqtt://broker:1883');
    assert.equal(c?.type === 'mqtt' ? c.password : undefined, 's3cret');
    assert.equal(config.sites[0]?.areas[0]?.lines[0]?.units[0]?.idealCycleTime, 1000);
  });

  it('reports a YAML syntax error with its position', () => {
    assert.throws(
      () => parseConfig('enterprise:\n  id: acme\n sites: [', 'bad.yaml', {}),
      (err: unknown) =>
        isMwError(err) &&
        err.code === 'MW_ERR_CONFIG_YAML' &&
        /bad\.yaml \(line \d+, col \d+\)/.test(err.message),
    );
  });

  it('names a missing required key at its parent', () => {
    assert.deepEqual(problems('sites: []\n'), [
      'enterprise (line 1, col 1): required: expected object',
      'sites (line 1, col 1): at least one site is needed',
    ]);
  });
});

describe('millwright check-config', () => {
  const run = (file: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', path.resolve('src/cli/bin.ts'), 'check-config', '-c', file],
      { encoding: 'utf8' },
    );

  it('prints each error and exits non-zero on a broken file', () => {
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'broken.yaml');
      writeFileSync(file, BROKEN);
      const result = run(file);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /8 error\(s\)/);
      assert.match(
        result.stderr,
        /sites\[0\]\.areas\[0\]\.lines\[0\]\.units\[0\]\.idealCycleTime \(line 12, col 33\): expected a duration like "1\.5s"/,
      );
    } finally {
      tmp.remove();
    }
  });

  it('accepts the demo configuration', () => {
    const result = run('examples/demo.yaml');
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /^ok: examples\/demo\.yaml: 1 site\(s\), 7 work unit\(s\), 2 connection\(s\), 5 binding\(s\), 2 target\(s\), store sqlite/,
    );
  });
});
