import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_METHOD_ARNS } from '../../infra/constructs/api-protection.js';
import { TRADINGVIEW_WEBHOOK_ADDRESSES } from '../../shared/config/schema.js';
import {
  asList,
  buildTestApp,
  type CfnResource,
  type CfnTemplate,
  propsOf,
  renderValue,
  resourcesOfType,
  StatelessView,
  type TestAppOptions,
} from './support.js';

/**
 * The deployment's switches (shared/config/schema.ts, docs/DEPLOYMENT.md): the source-address
 * allow-list, the WAF web ACL, provisioned concurrency for the webhook and the Route 53 health
 * check. Each is off by default (stateless-stack.test.ts) and does exactly this when on.
 */

const statelessOf = (config: TestAppOptions['config']) => {
  const app = buildTestApp({ config });
  const stateful = Template.fromStack(app.stateful).toJSON() as CfnTemplate;
  return new StatelessView(Template.fromStack(app.stateless).toJSON() as CfnTemplate, stateful);
};

const only = (json: CfnTemplate, type: string): Record<string, unknown> => {
  const found = resourcesOfType(json, type);
  expect(found, type).toHaveLength(1);
  return propsOf(found[0]?.[1]);
};

describe('api.allowList: TradingView’s addresses only', () => {
  let view: StatelessView;
  beforeAll(() => {
    view = statelessOf({ api: { allowList: { enabled: true } } });
  });

  it('the default list is the four addresses TradingView documents for webhooks', () => {
    expect([...TRADINGVIEW_WEBHOOK_ADDRESSES]).toEqual([
      '52.89.214.238',
      '34.212.75.30',
      '54.218.53.128',
      '52.32.178.7',
    ]);
  });

  it('a resource policy denies POST /webhook (with or without the path secret) from every other address', () => {
    const policy = only(view.json, 'AWS::ApiGateway::RestApi').Policy as {
      Statement: Record<string, unknown>[];
    };

    expect(policy.Statement).toContainEqual({
      Sid: 'WebhookOnlyFromAllowedAddresses',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'execute-api:Invoke',
      Resource: [...WEBHOOK_METHOD_ARNS],
      Condition: { NotIpAddress: { 'aws:SourceIp': [...TRADINGVIEW_WEBHOOK_ADDRESSES] } },
    });
    expect(WEBHOOK_METHOD_ARNS).toEqual(['execute-api:/*/POST/webhook', 'execute-api:/*/POST/webhook/*']);
  });

  it('everything else (GET /health for uptime checkers) stays invokable by anyone', () => {
    const policy = only(view.json, 'AWS::ApiGateway::RestApi').Policy as {
      Statement: Record<string, unknown>[];
    };

    expect(policy.Statement).toContainEqual({
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: 'execute-api:Invoke',
      Resource: 'execute-api:/*',
    });
    expect(policy.Statement).toHaveLength(2);
  });

  it('is on by default in prod (live money) and off in dev; the config decides either way when it says', () => {
    const policyOf = (stage: string, config: TestAppOptions['config'] = {}) => {
      const app = buildTestApp({ stage, config });
      return only(Template.fromStack(app.stateless).toJSON() as CfnTemplate, 'AWS::ApiGateway::RestApi')
        .Policy as { Statement: Record<string, unknown>[] } | undefined;
    };
    const deniesOthers = {
      Sid: 'WebhookOnlyFromAllowedAddresses',
      Effect: 'Deny',
      Condition: { NotIpAddress: { 'aws:SourceIp': [...TRADINGVIEW_WEBHOOK_ADDRESSES] } },
    };

    expect(policyOf('prod')?.Statement).toContainEqual(expect.objectContaining(deniesOthers));
    expect(policyOf('dev')).toBeUndefined();
    expect(policyOf('prod', { api: { allowList: { enabled: false } } })).toBeUndefined();
    expect(policyOf('dev', { api: { allowList: { enabled: true } } })?.Statement).toContainEqual(
      expect.objectContaining(deniesOthers),
    );
  });

  it('an entry that is not an IPv4 address or CIDR range is refused at synth, naming the key', () => {
    expect(() =>
      buildTestApp({ config: { api: { allowList: { enabled: true, addresses: ['2001:db8::1'] } } } }),
    ).toThrow(/api\.allowList\.addresses\.0: must be an IPv4 address or CIDR range/);
    expect(() => buildTestApp({ config: { api: { allowList: { addresses: ['52.89.214.300'] } } } })).toThrow(
      /api\.allowList\.addresses\.0/,
    );
  });

  it('the list is the configured one: an address of your own for test alerts can be added', () => {
    const own = statelessOf({
      api: { allowList: { enabled: true, addresses: ['52.89.214.238', '203.0.113.7/32'] } },
    });
    const policy = only(own.json, 'AWS::ApiGateway::RestApi').Policy as {
      Statement: Record<string, unknown>[];
    };

    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Condition: { NotIpAddress: { 'aws:SourceIp': ['52.89.214.238', '203.0.113.7/32'] } },
      }),
    );
  });
});

describe('api.waf: a WAF web ACL in front of the stage', () => {
  let view: StatelessView;
  let acl: Record<string, unknown>;
  const rule = (name: string) =>
    (acl.Rules as { Name: string; Action: unknown; Statement: Record<string, unknown> }[]).find(
      (r) => r.Name === name,
    );

  beforeAll(() => {
    view = statelessOf({
      api: { waf: { enabled: true, rateLimit: 120, dashboardRateLimit: 600 }, allowList: { enabled: true } },
      webhook: { maxBodyBytes: 4096 },
    });
    acl = only(view.json, 'AWS::WAFv2::WebACL');
  });

  it('is a regional web ACL that allows by default and is associated with the API stage', () => {
    const association = only(view.json, 'AWS::WAFv2::WebACLAssociation');
    const [[stageId]] = resourcesOfType(view.json, 'AWS::ApiGateway::Stage') as [[string, CfnResource]];

    expect(acl.Scope).toBe('REGIONAL');
    expect(acl.DefaultAction).toEqual({ Allow: {} });
    expect(renderValue(association.ResourceArn)).toContain(`<${stageId}>`);
    expect(renderValue(association.WebACLArn)).toMatch(/^<.+\.Arn>$/);
  });

  it('blocks POST /webhook from outside the IP set (403) when the allow-list is on', () => {
    const ipSet = only(view.json, 'AWS::WAFv2::IPSet');
    const sources = rule('WebhookOnlyFromAllowedAddresses');

    expect(ipSet.Addresses).toEqual(TRADINGVIEW_WEBHOOK_ADDRESSES.map((a) => `${a}/32`));
    expect(sources?.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 403 } } });
    const and = sources?.Statement.AndStatement as { Statements: Record<string, unknown>[] } | undefined;
    const [path, notInSet] = (and?.Statements ?? []) as [
      Record<string, { SearchString?: string; PositionalConstraint?: string }>,
      unknown,
    ];
    expect(path.ByteMatchStatement).toMatchObject({
      SearchString: '/dev/webhook',
      PositionalConstraint: 'STARTS_WITH',
    });
    expect(JSON.stringify(notInSet)).toContain('IPSetReferenceStatement');
  });

  it('blocks bodies over webhook.maxBodyBytes with 413, oversize bodies included', () => {
    const size = rule('BodySizeLimit');

    expect(size?.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 413 } } });
    expect(size?.Statement.SizeConstraintStatement).toMatchObject({
      ComparisonOperator: 'GT',
      Size: 4096,
      FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
    });
  });

  it('answers 429 to an address over api.waf.rateLimit webhook requests in 5 minutes, counted per address and for the webhook alone', () => {
    const rate = rule('WebhookRateLimit');

    expect(rate?.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 429 } } });
    expect(rate?.Statement.RateBasedStatement).toEqual({
      Limit: 120,
      AggregateKeyType: 'IP',
      EvaluationWindowSec: 300,
      ScopeDownStatement: {
        ByteMatchStatement: {
          FieldToMatch: { UriPath: {} },
          PositionalConstraint: 'STARTS_WITH',
          SearchString: '/dev/webhook',
          TextTransformations: [{ Priority: 0, Type: 'NONE' }],
        },
      },
    });
  });

  it('counts everything else per address apart from the webhook (api.waf.dashboardRateLimit): one address’s alert flood leaves another’s dashboard alone, and its own', () => {
    const rate = rule('DashboardRateLimit');
    const statement = rate?.Statement.RateBasedStatement as Record<string, unknown> | undefined;

    expect(rate?.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 429 } } });
    expect(statement).toMatchObject({ Limit: 600, AggregateKeyType: 'IP', EvaluationWindowSec: 300 });
    const webhookOnly = rule('WebhookRateLimit')?.Statement.RateBasedStatement as {
      ScopeDownStatement: unknown;
    };
    expect(statement?.ScopeDownStatement).toEqual({
      NotStatement: { Statement: webhookOnly.ScopeDownStatement },
    });
    // Only per-address rules: no rate limit is shared by every caller.
    const rateRules = (acl.Rules as { Statement: Record<string, { AggregateKeyType?: string }> }[]).filter(
      (r) => r.Statement.RateBasedStatement !== undefined,
    );
    expect(rateRules.map((r) => r.Statement.RateBasedStatement?.AggregateKeyType)).toEqual(['IP', 'IP']);
  });

  it('keeps the secret out of WAF: no sampled requests, and the URI path and query string redacted from its logs', () => {
    const configs = [
      acl.VisibilityConfig,
      ...(acl.Rules as { VisibilityConfig: unknown }[]).map((r) => r.VisibilityConfig),
    ];
    for (const visibility of configs) expect(visibility).toMatchObject({ SampledRequestsEnabled: false });
    const logging = only(view.json, 'AWS::WAFv2::LoggingConfiguration');

    expect(logging.RedactedFields).toEqual([{ UriPath: {} }, { QueryString: {} }]);
    expect(renderValue(asList(logging.LogDestinationConfigs)[0])).toMatch(
      /:log-group:aws-waf-logs-pinebridge-dev-api$/,
    );
  });

  it('without the allow-list there is no IP-set rule, and bodies over 16 KB raise WAF’s inspection limit to match', () => {
    const noList = statelessOf({ api: { waf: { enabled: true } }, webhook: { maxBodyBytes: 40_000 } });
    const webAcl = only(noList.json, 'AWS::WAFv2::WebACL');

    expect(resourcesOfType(noList.json, 'AWS::WAFv2::IPSet')).toEqual([]);
    expect((webAcl.Rules as { Name: string }[]).map((r) => r.Name)).toEqual([
      'BodySizeLimit',
      'WebhookRateLimit',
      'DashboardRateLimit',
    ]);
    expect(webAcl.AssociationConfig).toEqual({
      RequestBody: { API_GATEWAY: { DefaultSizeInspectionLimit: 'KB_48' } },
    });
  });
});

describe('webhook.provisionedConcurrency', () => {
  it('keeps the configured number of webhook instances initialized, and the API calls them through the alias', () => {
    const view = statelessOf({ webhook: { provisionedConcurrency: 1 } });
    const alias = only(view.json, 'AWS::Lambda::Alias');

    expect(alias.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: 1 });
    expect(renderValue(alias.FunctionName)).toBe(`<${view.functionId('Webhook')}>`);
    const [aliasId] = resourcesOfType(view.json, 'AWS::Lambda::Alias')[0] as [string, CfnResource];
    expect(view.routeTarget('POST /webhook')).toBe(aliasId);
    expect(view.routeTarget('POST /webhook/{secret}')).toBe(aliasId);
  });

  it('is off by default: no alias, no version, the API calls the function', () => {
    const view = statelessOf({});

    expect(resourcesOfType(view.json, 'AWS::Lambda::Alias')).toEqual([]);
    expect(view.routeTarget('POST /webhook')).toBe(view.functionId('Webhook'));
  });
});

describe('monitoring.healthCheck', () => {
  it('a Route 53 HTTPS health check calls GET /<stage>/health on the API every 30 s', () => {
    const view = statelessOf({ monitoring: { healthCheck: true } });
    const check = only(view.json, 'AWS::Route53::HealthCheck').HealthCheckConfig as Record<string, unknown>;
    const [[apiId]] = resourcesOfType(view.json, 'AWS::ApiGateway::RestApi') as [[string, CfnResource]];

    expect(check).toMatchObject({
      Type: 'HTTPS',
      ResourcePath: '/dev/health',
      Port: 443,
      RequestInterval: 30,
      FailureThreshold: 3,
    });
    expect(renderValue(check.FullyQualifiedDomainName)).toBe(
      `<${apiId}>.execute-api.<AWS::Region>.<AWS::URLSuffix>`,
    );
  });
});
