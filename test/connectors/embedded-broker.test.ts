/** The embedded broker's port rules: an explicit taken port is an error naming it; an unset one moves. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DEFAULT_MQTT_PORT, EmbeddedBroker } from '../../src/connectors/mqtt/embedded-broker.ts';
import { isMwError } from '../../src/errors.ts';
import { MQTT_URL, needService } from '../helpers/services.ts';

const logger = pino({ level: 'silent' });

function occupy(): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('embedded broker port', () => {
  it('refuses an explicitly configured port that is taken, naming it', async () => {
    const taken = await occupy();
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        EmbeddedBroker.start({ host: '127.0.0.1', port, logger }),
        (err: unknown) => {
          assert.ok(isMwError(err));
          assert.equal(err.code, 'MW_ERR_BROKER_PORT_IN_USE');
          assert.match(
            err.message,
            new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`),
          );
          return true;
        },
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it(`takes a free port when no port is set and ${DEFAULT_MQTT_PORT} is taken`, async (t) => {
    // The machine's Mosquitto holds 1883, as on a plant server that already runs a broker.
    const mosquittoPort = Number(new URL(MQTT_URL).port || DEFAULT_MQTT_PORT);
    if (mosquittoPort !== DEFAULT_MQTT_PORT)
      return t.skip(`MILLWRIGHT_MQTT_URL is not on port ${DEFAULT_MQTT_PORT}`);
    if (!(await needService(t, 'Mosquitto (MQTT broker)', MQTT_URL))) return;
    const broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: undefined, logger });
    try {
      assert.notEqual(broker.port, DEFAULT_MQTT_PORT);
      assert.match(broker.portNote ?? '', /port 1883 is taken/);
      assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    } finally {
      await broker.close();
    }
  });
});
