import { ArnFormat, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { AnyPrincipal, Effect, PolicyDocument, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnIPSet, CfnLoggingConfiguration, CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** The API resources the allow-list guards: POST /webhook and POST /webhook/{secret}, in any stage. */
export const WEBHOOK_METHOD_ARNS = ['execute-api:/*/POST/webhook', 'execute-api:/*/POST/webhook/*'] as const;

/**
 * The API's resource policy with the source-address allow-list: anyone may invoke the API, but
 * POST /webhook from an address outside `addresses` is denied by API Gateway before the function
 * runs (403). GET /health stays open so uptime checkers (Route 53) reach it.
 */
export function webhookAllowListPolicy(addresses: readonly string[]): PolicyDocument {
  return new PolicyDocument({
    statements: [
      new PolicyStatement({
        effect: Effect.ALLOW,
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
      }),
      new PolicyStatement({
        sid: 'WebhookOnlyFromAllowedAddresses',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [...WEBHOOK_METHOD_ARNS],
        conditions: { NotIpAddress: { 'aws:SourceIp': [...addresses] } },
      }),
    ],
  });
}

export interface WebhookFirewallProps {
  /** The API stage the web ACL protects, and its name (`dev` | `prod`: the first path segment). */
  stage: Stage;
  stageName: string;
  /** `<app>-<stage>`: names the web ACL, its rules' metrics and its log group. */
  prefix: string;
  /** Bodies larger than this are blocked with 413 (the webhook's own cap, enforced earlier). */
  maxBodyBytes: number;
  /** Requests to POST /webhook one address may make in 5 minutes before WAF answers 429. */
  rateLimit: number;
  /** The same for everything else (dashboard, login, /health), counted apart from the webhook. */
  dashboardRateLimit: number;
  /** When given, POST /webhook from any other address is blocked with 403 (an IP set). */
  allowedAddresses?: readonly string[];
  /** Log retention of the web ACL's log group. */
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/** WAF inspects at most this much of a body for API Gateway unless told otherwise (and paid more). */
const DEFAULT_BODY_INSPECTION_BYTES = 16 * 1024;

/**
 * An AWS WAF web ACL in front of the API stage: an optional IP-set rule (TradingView's
 * addresses only, for the webhook), a body-size rule and two per-address rate-based rules (the
 * webhook's, and everything else's). Sampled requests
 * are off and the URI path and query string are redacted from the logs: the path may carry the
 * webhook secret.
 */
export class WebhookFirewall extends Construct {
  readonly webAcl: CfnWebACL;
  readonly ipSet?: CfnIPSet;

  constructor(scope: Construct, id: string, props: WebhookFirewallProps) {
    super(scope, id);
    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${props.prefix}-${metricName}`,
      // Samples would show request URIs, and /webhook/{secret} carries the secret.
      sampledRequestsEnabled: false,
    });
    const block = (responseCode: number): CfnWebACL.RuleActionProperty => ({
      block: { customResponse: { responseCode } },
    });
    const rules: CfnWebACL.RuleProperty[] = [];
    // POST /webhook and /webhook/{secret}: WAF sees the path with the stage in front.
    const webhookPath: CfnWebACL.StatementProperty = {
      byteMatchStatement: {
        fieldToMatch: { uriPath: {} },
        positionalConstraint: 'STARTS_WITH',
        searchString: `/${props.stageName}/webhook`,
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    };

    if (props.allowedAddresses !== undefined) {
      this.ipSet = new CfnIPSet(this, 'AllowedAddresses', {
        name: `${props.prefix}-webhook-sources`,
        description: 'Addresses allowed to call POST /webhook (TradingView by default)',
        scope: 'REGIONAL',
        ipAddressVersion: 'IPV4',
        addresses: props.allowedAddresses.map((a) => (a.includes('/') ? a : `${a}/32`)),
      });
      rules.push({
        name: 'WebhookOnlyFromAllowedAddresses',
        priority: 0,
        action: block(403),
        visibilityConfig: visibility('webhook-sources'),
        statement: {
          andStatement: {
            statements: [
              webhookPath,
              { notStatement: { statement: { ipSetReferenceStatement: { arn: this.ipSet.attrArn } } } },
            ],
          },
        },
      });
    }
    rules.push({
      name: 'BodySizeLimit',
      priority: 1,
      action: block(413),
      visibilityConfig: visibility('body-size'),
      statement: {
        sizeConstraintStatement: {
          // Bodies beyond what WAF inspects count as oversize, and oversize is blocked (MATCH).
          fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
          comparisonOperator: 'GT',
          size: props.maxBodyBytes,
          textTransformations: [{ priority: 0, type: 'NONE' }],
        },
      },
    });
    // Two per-address counters, so neither kind of traffic can use up the other's: a flood of
    // POST /webhook from one address is refused without touching what the trader's own address
    // may still ask of the dashboard (its stop included), and the other way round.
    const perAddress = (limit: number, scopeDownStatement: CfnWebACL.StatementProperty) => ({
      rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: 300, scopeDownStatement },
    });
    rules.push({
      name: 'WebhookRateLimit',
      priority: 2,
      action: block(429),
      visibilityConfig: visibility('webhook-rate-limit'),
      statement: perAddress(props.rateLimit, webhookPath),
    });
    rules.push({
      name: 'DashboardRateLimit',
      priority: 3,
      action: block(429),
      visibilityConfig: visibility('dashboard-rate-limit'),
      statement: perAddress(props.dashboardRateLimit, { notStatement: { statement: webhookPath } }),
    });

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      name: `${props.prefix}-api`,
      description: 'Pinebridge API: TradingView sources, body size and per-address rate limits',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('api'),
      rules,
      ...(props.maxBodyBytes > DEFAULT_BODY_INSPECTION_BYTES
        ? {
            associationConfig: {
              requestBody: {
                API_GATEWAY: { defaultSizeInspectionLimit: inspectionLimitFor(props.maxBodyBytes) },
              },
            },
          }
        : {}),
    });
    new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF delivers to CloudWatch Logs only into groups named aws-waf-logs-*.
    const logGroupName = `aws-waf-logs-${props.prefix}-api`;
    const logs = new LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.retention,
      removalPolicy: props.removalPolicy,
    });
    const logging = new CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: logGroupName,
          // WAF wants the group's ARN without the ":*" suffix that logGroupArn carries.
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [{ uriPath: {} }, { queryString: {} }],
    });
    logging.node.addDependency(logs);
  }
}

function inspectionLimitFor(bytes: number): 'KB_16' | 'KB_32' | 'KB_48' | 'KB_64' {
  if (bytes <= 16 * 1024) return 'KB_16';
  if (bytes <= 32 * 1024) return 'KB_32';
  if (bytes <= 48 * 1024) return 'KB_48';
  return 'KB_64';
}
