import { cancelOrders } from './cancel-orders.js';
import {
  checkOrder,
  recordFailure,
  recordFill,
  recordRejection,
  riskCheck,
  submitOrder,
  type TradeFlowDeps,
} from './trade-flow.js';

/**
 * The workflow's Task states, each with the use case it runs and the Lambda entry that runs it
 * in AWS. The CDK construct creates one function per entry; the local runtime binds each state
 * name to the same use case in-process.
 */
export const TRADE_FLOW_TASKS = {
  RiskCheck: { entry: 'risk-check', run: riskCheck },
  // Several orders, each perhaps waiting out a submission in flight and a broker's confirmation.
  CancelOrders: { entry: 'cancel-orders', run: cancelOrders, timeoutSeconds: 50 },
  RecordRejection: { entry: 'record-rejection', run: recordRejection },
  SubmitOrder: { entry: 'submit-order', run: submitOrder },
  CheckOrder: { entry: 'check-order', run: checkOrder },
  RecordFill: { entry: 'record-fill', run: recordFill },
  RecordFailure: { entry: 'record-failure', run: recordFailure },
} as const satisfies Record<
  string,
  {
    entry: string;
    run: (input: unknown, deps: TradeFlowDeps) => Promise<unknown>;
    /** The function's timeout, when the default 12 s is too short for its work. */
    timeoutSeconds?: number;
  }
>;

export type TradeFlowTaskName = keyof typeof TRADE_FLOW_TASKS;

/** A task function's timeout: below its Task state's own (see infra/constructs/trade-flow.ts). */
export const taskTimeoutSeconds = (name: TradeFlowTaskName): number => {
  const task = TRADE_FLOW_TASKS[name];
  return 'timeoutSeconds' in task ? task.timeoutSeconds : 12;
};
export const TRADE_FLOW_TASK_NAMES = Object.keys(TRADE_FLOW_TASKS) as TradeFlowTaskName[];
