/** Configuration of the demo line simulator. */
import { z } from 'zod';
import { durationSchema, idSchema } from '../../config/common.ts';
import { findUnit } from '../../model/uom.ts';

/** A unit id, or the end of a unit's path: `filler`, `line1/filler`, `plant1/packaging/line1/filler`. */
const UNIT_PATH_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\/[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
/** A material code that is one MQTT topic level: no "/", and no wildcard "+" or "#". */
const MATERIAL_CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const consumptionSchema = z
  .strictObject({
    unit: z
      .string()
      .regex(UNIT_PATH_RE, {
        error: 'expected a unit id, or the end of its path like "line1/filler"',
      })
      .describe(
        'The work units that use the material: a unit id (`filler`: the filler of every line), or the end of a unit’s path to pick some (`line1/filler`, `plant1/packaging/line1/filler`). Where several entries name a unit for the same material, the longest path wins.',
      )
      .meta({ examples: ['filler'] }),
    material: z
      .string()
      .regex(MATERIAL_CODE_RE, {
        error: 'expected a material code of letters, digits, "_", "." or "-" (one topic level)',
      })
      .max(64)
      .describe(
        "The material code the simulated PLC publishes, as the last topic level: `<topicPrefix>/<site>/<area>/<line>/<unit>/consumed/<material>`. A consumption binding reads it (`material: '{material}'`), so it must be one of `materials` or be mapped to one through the binding’s `materialSystem`.",
      )
      .meta({ examples: ['PET-28G'] }),
    perPiece: z
      .number()
      .int({ error: 'expected a whole number: count fractions in a smaller unit (GRM, MLT …)' })
      .positive()
      .default(1)
      .describe(
        'Quantity used per piece the unit makes, good or scrap, in `uom`. A whole number: the totaliser is a PLC integer register like the counters (count glue in GRM or MLT, not KGM or LTR).',
      )
      .meta({ examples: [1, 2] }),
    uom: z
      .string()
      .refine((code) => findUnit(code) !== undefined, {
        error: 'expected a UN/CEFACT Rec 20 unit code such as H87, GRM or MLT (docs/units.md)',
      })
      .default('H87')
      .describe(
        'Unit of measure of the totaliser (UN/CEFACT Rec 20, docs/units.md): the `uom` of the consumption binding that reads it. H87: pieces.',
      )
      .meta({ examples: ['GRM'] }),
  })
  .describe(
    'A material totaliser of some work units: it grows by `perPiece` with every piece the unit makes and wraps to 0 after `counterMax`, like the counters; the payload is the counters’ (`{"value": 48211, "timestamp": "…"}`).',
  );

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
    consumption: z
      .array(consumptionSchema)
      .default([])
      .describe('Materials the simulated units use, each published as a totaliser tag.')
      .meta({
        examples: [
          [
            { unit: 'filler', material: 'PET-28G' },
            { unit: 'labeller', material: 'GLUE-H', perPiece: 2, uom: 'GRM' },
          ],
        ],
      }),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    const uomOf = new Map<string, string>();
    c.consumption.forEach((entry, i) => {
      const key = `${entry.unit}\u0000${entry.material}`;
      if (seen.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['consumption', i, 'material'],
          message: `unit "${entry.unit}" already has a totaliser of material "${entry.material}"`,
        });
      }
      seen.add(key);
      // One topic per material, read by one binding with one `uom`.
      const uom = uomOf.get(entry.material);
      if (uom !== undefined && uom !== entry.uom) {
        ctx.addIssue({
          code: 'custom',
          path: ['consumption', i, 'uom'],
          message: `material "${entry.material}" is counted in ${uom} by an entry before; one unit of measure per material`,
        });
      }
      uomOf.set(entry.material, entry.uom);
      // The hub reads a drop of at most half the range as a rollover, a larger one as a reset.
      if (entry.perPiece > (c.counterMax + 1) / 2) {
        ctx.addIssue({
          code: 'custom',
          path: ['consumption', i, 'perPiece'],
          message: `expected at most half of counterMax + 1 (${(c.counterMax + 1) / 2}), so each wrap reads as a rollover`,
        });
      }
    });
  })
  .describe(
    'The built-in line simulator: every work unit runs with jitter, stops, changeovers and scrap, and may use materials (totaliser tags).',
  );
