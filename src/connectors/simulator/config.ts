/** Configuration of the demo line simulator. */
import { z } from 'zod';
import { durationSchema, idSchema } from '../../config/common.ts';

export const simulatorConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['sim'] }),
    type: z.literal('simulator'),
    publishTo: idSchema
      .describe(
        'Id of the MQTT connection whose broker the simulator publishes to, so samples take the real MQTT path.',
      )
      .meta({ examples: ['plant-mqtt'] }),
    topicPrefix: z
      .string()
      .default('sim')
      .describe(
        'First topic level of the simulated tags: `<prefix>/<site>/<area>/<line>/<unit>/<tag>`.',
      ),
    seed: z.number().int().optional().describe('Random seed, for a repeatable plant.'),
    speed: z
      .number()
      .positive()
      .max(1000)
      .default(1)
      .describe('Time factor: 10 runs the plant ten times faster.'),
    counterMax: z
      .number()
      .int()
      .positive()
      .default(65_535)
      .describe('Largest value of the simulated PLC counters; they roll over to 0 after it.'),
    scrapRate: z.number().min(0).max(1).default(0.02).describe('Share of pieces that are scrap.'),
    meanTimeBetweenStops: durationSchema
      .default(60_000)
      .describe('Mean running time between two stops.')
      .meta({ examples: ['60s'] }),
    microStopShare: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .describe('Share of stops that are micro-stops (a few seconds).'),
    changeoverEvery: durationSchema
      .default(900_000)
      .describe('Mean time between product changeovers.')
      .meta({ examples: ['15m'] }),
  })
  .describe(
    'The built-in line simulator: every work unit runs with jitter, stops, changeovers and scrap.',
  );
