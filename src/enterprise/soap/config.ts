/** Config of the `soap` target: messages sent as operations of a SOAP web service (WSDL). */
import { z } from 'zod';
import { ENTITY_MESSAGE_TYPES, targetFields } from '../target-config.ts';
import { HTTP_URL_RE, httpFields } from '../shared/http.ts';

export const soapTargetSchema = z
  .strictObject({
    ...targetFields,
    type: z.literal('soap'),
    wsdl: z
      .string()
      .min(1)
      .describe(
        'The service description: an http(s):// URL or a file path relative to the config file.',
      )
      .meta({
        examples: ['https://erp.example.com/ws/ProductionConfirmation?wsdl', 'wsdl/erp.wsdl'],
      }),
    operation: z
      .partialRecord(
        z.enum(ENTITY_MESSAGE_TYPES),
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { error: 'expected a WSDL operation name' }),
      )
      .refine((map) => Object.keys(map).length > 0, { error: 'name at least one operation' })
      .describe(
        'The WSDL operation each message type is sent with (its arguments: docs/erp.md). A type not in the map is not sent (it counts as delivered); a quality message (`lot.held`, `lot.released`, `inspection.recorded`) listed in `messages` needs its entry.',
      )
      .meta({
        examples: [
          { 'operation.confirmed': 'ConfirmOperation', 'goods.receipt': 'PostGoodsReceipt' },
        ],
      }),
    endpoint: z
      .string()
      .regex(HTTP_URL_RE, { error: 'expected an http:// or https:// URL' })
      .optional()
      .describe('Address to send to instead of the one in the WSDL (`soap:address`).')
      .meta({ examples: ['https://erp-qa.example.com/ws/ProductionConfirmation'] }),
    wsSecurity: z
      .strictObject({
        username: z
          .string()
          .min(1)
          .describe('User of the UsernameToken.')
          .meta({ examples: ['MES_WS'] }),
        password: z
          .string()
          .describe('Password of the UsernameToken; write "${ENV_NAME}".')
          .meta({ examples: ['${ERP_WS_PASSWORD}'] }),
        passwordType: z
          .enum(['PasswordText', 'PasswordDigest'])
          .default('PasswordText')
          .describe(
            'How the password travels (WS-Security UsernameToken Profile 1.1 §3.1): as text (use https) or as a digest with nonce and creation time.',
          ),
        timestamp: z
          .boolean()
          .default(true)
          .describe('Add a wsu:Timestamp to the security header.'),
      })
      .optional()
      .describe(
        'A WS-Security UsernameToken in the SOAP header of every call (may be combined with `auth`, which is HTTP-level).',
      ),
    ...httpFields,
  })
  .describe('Messages sent as operations of a SOAP web service described by a WSDL.');

export type SoapTargetConfig = z.infer<typeof soapTargetSchema>;
