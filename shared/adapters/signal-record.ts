import * as z from 'zod';
import { SignalSchema } from '../domain/alert.js';
import { SIGNAL_STATUSES } from '../domain/trading.js';
import type { SignalRecord } from '../ports/index.js';

/** A signal record as every store keeps it, checked when read back (fields a store adds are dropped). */
const SignalRecordSchema = z.object({
  signalId: z.string(),
  status: z.enum(SIGNAL_STATUSES),
  signal: SignalSchema,
  receivedAt: z.string(),
  updatedAt: z.string(),
  reason: z.string().optional(),
  denials: z.array(z.object({ code: z.string(), detail: z.string() })).optional(),
  clientOrderId: z.string().optional(),
  filledQuantity: z.string().optional(),
  averageFillPrice: z.string().optional(),
  cancels: z
    .object({
      at: z.string(),
      orders: z.array(z.object({ clientOrderId: z.string(), outcome: z.string() })),
    })
    .optional(),
});

export const parseSignalRecord = (item: unknown): SignalRecord =>
  SignalRecordSchema.parse(item) as SignalRecord;
