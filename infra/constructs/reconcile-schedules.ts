import { Aws, type CfnElement, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import type { CronOptions } from 'aws-cdk-lib/aws-events';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import type { Config } from '../../shared/config/schema.js';

/** One recurring window of reconciler runs, in America/New_York (the exchange's clock). */
export interface ReconcileWindow {
  id: string;
  description: string;
  cron: CronOptions;
}

/** Off hours: every 15 minutes, enough to keep the heartbeat alarm quiet and settle stragglers. */
const OFF_HOURS_MINUTES = '0/15';

/**
 * When the reconciler runs, from `risk.marketHours`: every minute while orders can be placed
 * (09:00–16:59 New York for "regular", 04:00–20:59 for "extended", always for "any"), and every
 * 15 minutes the rest of the week. The windows never overlap, so two runs never race; the
 * heartbeat alarm (15-minute periods) hears from the reconciler around the clock.
 */
export function reconcileWindows(marketHours: Config['risk']['marketHours']): ReconcileWindow[] {
  if (marketHours === 'any') {
    return [
      { id: 'EveryMinute', description: 'every minute (risk.marketHours "any")', cron: { minute: '*' } },
    ];
  }
  const [open, closeHour] = marketHours === 'regular' ? [9, 16] : [4, 20];
  return [
    {
      id: 'MarketHours',
      description: `every minute, Monday–Friday ${open}:00–${closeHour}:59 New York`,
      cron: { minute: '*', hour: `${open}-${closeHour}`, weekDay: 'MON-FRI' },
    },
    {
      id: 'WeekdayNights',
      description: 'every 15 minutes outside those hours, Monday–Friday',
      cron: { minute: OFF_HOURS_MINUTES, hour: `0-${open - 1},${closeHour + 1}-23`, weekDay: 'MON-FRI' },
    },
    {
      id: 'Weekends',
      description: 'every 15 minutes on Saturday and Sunday',
      cron: { minute: OFF_HOURS_MINUTES, weekDay: 'SAT,SUN' },
    },
  ];
}

export interface ReconcileSchedulesProps {
  reconciler: IFunction;
  marketHours: Config['risk']['marketHours'];
  /** `<app>-<stage>`: schedule names. */
  prefix: string;
}

/** EventBridge Scheduler schedules (time zone aware, unlike rules) that run the reconciler. */
export class ReconcileSchedules extends Construct {
  readonly schedules: Schedule[];

  constructor(scope: Construct, id: string, props: ReconcileSchedulesProps) {
    super(scope, id);
    // Only EventBridge Scheduler, on behalf of this account, may use the role.
    const role = new Role(this, 'InvokeRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'Lets EventBridge Scheduler invoke the reconciler',
    });
    // No retries: the next run comes within a minute (or 15), and runs must not overlap.
    const target = new LambdaInvoke(props.reconciler, { retryAttempts: 0, role });
    this.schedules = reconcileWindows(props.marketHours).map(
      (window) =>
        new Schedule(this, window.id, {
          scheduleName: `${props.prefix}-reconcile-${window.id.toLowerCase()}`,
          description: `Runs the reconciler ${window.description}`,
          schedule: ScheduleExpression.cron({ ...window.cron, timeZone: TimeZone.AMERICA_NEW_YORK }),
          target,
        }),
    );
    const reconcilerId = Stack.of(this).getLogicalId(props.reconciler.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${reconcilerId}.Arn>:*]`,
      reason: 'CDK grants invoke on the reconciler and its versions (`:*`); nothing else.',
    });
  }
}
