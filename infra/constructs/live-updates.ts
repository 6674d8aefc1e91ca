import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  AppSyncAuthorizationType,
  AppSyncEventResource,
  type ChannelNamespace,
  EventApi,
} from 'aws-cdk-lib/aws-appsync';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { NOTICE_EVENT, SIGNAL_EVENT, TRADING_STATE_EVENT } from '../../shared/adapters/events.js';
import { LIVE_NAMESPACE } from '../../shared/dashboard/live.js';
import { PinebridgeFunction } from './pinebridge-function.js';

export interface LiveUpdatesProps {
  stage: 'dev' | 'prod';
  /** `<app>-<stage>`: the API's and the rule's names. */
  prefix: string;
  bus: IEventBus;
  /** The dashboard password's secret: it signs the sessions, and so the live tokens. */
  dashboardSecret: ISecret;
}

/**
 * The deployed dashboard's live updates (docs/DASHBOARD.md): an AppSync Events API — managed
 * WebSocket pub/sub, no connections table — with one namespace, `pinebridge`.
 *
 *  - Pages connect and subscribe with a live token their dashboard session issued, checked by
 *    the LiveAuthorizer function (Lambda authorization, never cached beyond the token's life).
 *  - Only the LivePublisher function publishes (IAM, SigV4): a rule sends it every event of
 *    Pinebridge's bus (signals received, notices — fills, refusals, failures… — and trading-state
 *    changes), and it publishes a hint of each (kind and time, no detail) to `/pinebridge/updates`.
 */
export class LiveUpdates extends Construct {
  readonly api: EventApi;
  readonly namespace: ChannelNamespace;
  readonly authorizer: PinebridgeFunction;
  readonly publisher: PinebridgeFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: LiveUpdatesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.authorizer = new PinebridgeFunction(stack, 'LiveAuthorizer', {
      entry: 'live-authorizer',
      stage: props.stage,
      invokedBy: 'appsync',
      sourceMaps: false,
      timeout: Duration.seconds(5),
      memorySize: 256,
      description: "Lets a dashboard session's live token connect to the live-update API and subscribe",
      environment: {},
    }).bindSecret(props.dashboardSecret, 'DASHBOARD_SECRET_ID');

    this.api = new EventApi(this, 'Api', {
      apiName: `${props.prefix}-live`,
      authorizationConfig: {
        authProviders: [
          { authorizationType: AppSyncAuthorizationType.IAM },
          {
            authorizationType: AppSyncAuthorizationType.LAMBDA,
            // The function answers with a ttlOverride no longer than the token lives.
            lambdaAuthorizerConfig: { handler: this.authorizer, resultsCacheTtl: Duration.seconds(0) },
          },
        ],
        connectionAuthModeTypes: [AppSyncAuthorizationType.LAMBDA],
        defaultSubscribeAuthModeTypes: [AppSyncAuthorizationType.LAMBDA],
        defaultPublishAuthModeTypes: [AppSyncAuthorizationType.IAM],
      },
      // No request logging: CDK's would add a role with a managed policy and a custom-resource
      // function for the retention, for an API that carries hints only. AppSync's own metrics
      // (connections, unauthorized requests, publish errors) and the two functions' logs say
      // what goes wrong (docs/RUNBOOK.md).
    });
    this.namespace = this.api.addChannelNamespace(LIVE_NAMESPACE);

    this.publisher = new PinebridgeFunction(stack, 'LivePublisher', {
      entry: 'live-publisher',
      stage: props.stage,
      invokedBy: 'bus',
      sourceMaps: false,
      timeout: Duration.seconds(10),
      memorySize: 256,
      description: 'Tells open dashboards that something changed (a hint on the live-update API per event)',
      environment: { LIVE_HTTP_DOMAIN: this.api.httpDns },
    });
    // Publish on the one namespace, nothing else (not connect, not subscribe).
    this.api.grant(
      this.publisher,
      AppSyncEventResource.ofChannelNamespace(LIVE_NAMESPACE),
      'appsync:EventPublish',
    );

    this.rule = new Rule(this, 'Changes', {
      ruleName: `${props.prefix}-live-updates`,
      eventBus: props.bus,
      description:
        'Everything that changes what the dashboard shows: signals, notices, trading-state changes',
      eventPattern: {
        source: [...new Set([SIGNAL_EVENT.source, NOTICE_EVENT.source, TRADING_STATE_EVENT.source])],
      },
      // A hint is worth nothing a minute later: two tries within that minute, then dropped.
      targets: [new LambdaFunction(this.publisher, { retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'A live-update hint is worthless a minute later (open pages read the status once a minute anyway): a dead-letter queue would keep what nobody can use.',
    });
  }
}
