import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { TradeFlowTaskName } from '../../shared/usecases/tasks.js';

export interface TradeFlowProps {
  functions: Record<TradeFlowTaskName, IFunction>;
  type: 'STANDARD' | 'EXPRESS';
  /** How long an execution may live: a signal's delay, an order resting, the tasks (workflowLimits). */
  executionTimeout: Duration;
  stateMachineName?: string;
  /** Of the execution log (default one month, deleted with the stack). */
  logRetention?: RetentionDays;
  logRemovalPolicy?: RemovalPolicy;
}

/** Errors of the Lambda service itself; safe to retry because the task never ran. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/**
 * Delay (a delayed signal waits until it is due) → RiskCheck → Choice → SubmitOrder → AwaitFill
 * (Wait/CheckOrder) → RecordFill, with RecordRejection for denials, CancelOrders for a signal that
 * cancels open orders first (then back to RiskCheck if it trades), and RecordFailure as the
 * compensation branch. Retries happen only
 * on named transient errors before the broker call; after it, faults are caught and reconciled.
 * Local mode runs this very definition (see infra/local/definition.ts).
 */
export class TradeFlow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: TradeFlowProps) {
    super(scope, id);
    const recordFailureTask = new LambdaInvoke(this, 'RecordFailure', {
      lambdaFunction: props.functions.RecordFailure,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      taskTimeout: Timeout.duration(Duration.seconds(20)),
      resultPath: '$.recorded',
    });
    // Idempotent (it asks the broker and books once), so it may be retried on any fault.
    recordFailureTask.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(2),
      maxAttempts: 3,
      backoffRate: 2,
    });
    const recordFailure = recordFailureTask.next(
      new Fail(this, 'Failed', { error: 'TradeFlowFailed', cause: 'a task failed; see RecordFailure' }),
    );

    /** A task that retries only the named transient errors and catches every fault into RecordFailure. */
    const task = (name: TradeFlowTaskName, timeout: Duration, retryOn: readonly string[]) => {
      const invoke = new LambdaInvoke(this, name, {
        lambdaFunction: props.functions[name],
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: Timeout.duration(timeout),
      });
      if (retryOn.length > 0) {
        invoke.addRetry({
          errors: [...retryOn],
          interval: Duration.seconds(1),
          maxAttempts: 3,
          backoffRate: 2,
        });
      }
      return invoke.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    };

    const riskCheck = task('RiskCheck', Duration.seconds(15), [
      ...LAMBDA_SERVICE_ERRORS,
      'TransientStoreError',
    ]);
    const recordRejection = task('RecordRejection', Duration.seconds(15), LAMBDA_SERVICE_ERRORS);
    // Cancels at the broker and books each; idempotent (a cancelled order is no longer listed).
    const cancelOrders = task('CancelOrders', Duration.seconds(60), [
      ...LAMBDA_SERVICE_ERRORS,
      'OptimisticConflictError',
    ]);
    // The broker call: never retried by the workflow. The broker adapter owns the submit
    // protocol (client order id lookups); anything else is compensated by RecordFailure.
    const submitOrder = task('SubmitOrder', Duration.seconds(20), []);
    const checkOrder = task('CheckOrder', Duration.seconds(15), LAMBDA_SERVICE_ERRORS);
    const recordFill = task('RecordFill', Duration.seconds(20), [
      ...LAMBDA_SERVICE_ERRORS,
      'OptimisticConflictError',
    ]);

    const done = new Succeed(this, 'Done');
    const awaitFill = new Wait(this, 'AwaitFill', { time: WaitTime.secondsPath('$.pollSeconds') });
    const orderFinal = new Choice(this, 'OrderFinal?')
      .when(Condition.booleanEquals('$.final', true), recordFill.next(done))
      .otherwise(awaitFill.next(checkOrder));
    checkOrder.next(orderFinal);

    riskCheck.next(
      new Choice(this, 'Approved?')
        .when(Condition.stringEquals('$.decision', 'approved'), submitOrder.next(orderFinal))
        .when(Condition.stringEquals('$.decision', 'rejected'), recordRejection.next(done))
        .when(
          Condition.stringEquals('$.decision', 'cancel'),
          cancelOrders.next(
            new Choice(this, 'TradesAfterCancel?')
              .when(Condition.booleanEquals('$.decide', true), riskCheck)
              .otherwise(done),
          ),
        )
        .otherwise(done),
    );
    // A delayed signal (`delay`) carries when it falls due; the rest go straight to RiskCheck. An
    // execution started by an older webhook's event has no such field.
    const definition = new Choice(this, 'Delayed?')
      .when(
        Condition.and(
          Condition.isPresent('$.notBefore'),
          Condition.isTimestamp('$.notBefore'),
          Condition.timestampGreaterThanJsonPath('$.notBefore', '$.receivedAt'),
        ),
        new Wait(this, 'Delay', { time: WaitTime.timestampPath('$.notBefore') }).next(riskCheck),
      )
      .otherwise(riskCheck);

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      definitionBody: DefinitionBody.fromChainable(definition),
      stateMachineType: props.type === 'EXPRESS' ? StateMachineType.EXPRESS : StateMachineType.STANDARD,
      // Standard: a signal may wait a day and its order rest for orderTimeoutSeconds; Express
      // executions end after 5 minutes anyway.
      timeout: props.executionTimeout,
      tracingEnabled: true,
      logs: {
        destination: new LogGroup(this, 'Logs', {
          retention: props.logRetention ?? RetentionDays.ONE_MONTH,
          removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
        }),
        level: LogLevel.ALL,
        // Safe: the signal rule starts executions with {signalId, symbol, receivedAt} only (an input
        // transformer picks those fields), and tasks return ids, decisions and broker reports —
        // never an alert body or a secret.
        includeExecutionData: true,
      },
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery actions do not support resource-level permissions.',
    });
    for (const name of Object.keys(props.functions) as TradeFlowTaskName[]) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.functions[name].node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: 'CDK grants invoke on the task function and its versions (`:*`); nothing else.',
      });
    }
  }
}
