import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, stageOf } from '../../infra/app.js';
import { SecretsManagerDashboardPassword } from '../../shared/adapters/dashboard-password.js';
import { TABLES, type TableDefinition } from '../../shared/adapters/dynamodb/tables.js';
import { TRADING_STATE_EVENT } from '../../shared/adapters/events.js';
import { SecretsManagerWebhookSecrets } from '../../shared/adapters/secrets.js';
import { parseConfig } from '../../shared/config/load.js';
import { matchSecret } from '../../shared/domain/secrets.js';
import {
  asList,
  buildTestApp,
  type CfnResource,
  type CfnTemplate,
  propsOf,
  renderValue,
  resourcesOfType,
  synthContext,
} from './support.js';

const TABLE = 'AWS::DynamoDB::GlobalTable';

let secretsJson: CfnTemplate | undefined;
/** The secret resource with this name in the dev stateful template. */
function secretNamed(name: string): CfnResource {
  const found = resourcesOfType(secretsJson ?? { Resources: {} }, 'AWS::SecretsManager::Secret').find(
    ([, secret]) => propsOf(secret).Name === name,
  );
  if (!found) throw new Error(`no secret named ${name}`);
  return found[1];
}
const definitions: [string, TableDefinition][] = Object.entries(TABLES);

/** The table resource deployed for a definition, found by its name. */
function tableFor(template: CfnTemplate, stage: string, definition: TableDefinition): CfnResource {
  const name = `pinebridge-${stage}-${definition.id}`;
  const matches = resourcesOfType(template, TABLE).filter(([, r]) => propsOf(r).TableName === name);
  expect(matches, `exactly one table named ${name}`).toHaveLength(1);
  const [[, table]] = matches as [[string, CfnResource]];
  return table;
}

interface Replica {
  DeletionProtectionEnabled?: boolean;
  PointInTimeRecoverySpecification?: { PointInTimeRecoveryEnabled?: boolean };
}
const replicasOf = (table: CfnResource) => propsOf(table).Replicas as Replica[];

describe('StatefulStack (dev)', () => {
  let template: Template;
  let json: CfnTemplate;

  beforeAll(() => {
    const { stateful } = buildTestApp({ stage: 'dev' });
    template = Template.fromStack(stateful);
    json = template.toJSON() as CfnTemplate;
    secretsJson = json;
  });

  describe('DynamoDB tables', () => {
    it('has exactly one table per entry in TABLES, named pinebridge-dev-<id>', () => {
      template.resourceCountIs(TABLE, definitions.length);
      for (const [, definition] of definitions) tableFor(json, 'dev', definition);
    });

    it.each(definitions)(
      'the %s table has the key schema of its definition (string keys)',
      (_, definition) => {
        const table = tableFor(json, 'dev', definition);

        const props = propsOf(table);
        expect(props.KeySchema).toEqual([
          { AttributeName: definition.partitionKey, KeyType: 'HASH' },
          ...(definition.sortKey ? [{ AttributeName: definition.sortKey, KeyType: 'RANGE' }] : []),
        ]);
        const keyNames = [definition.partitionKey, definition.sortKey].filter(Boolean);
        for (const name of keyNames)
          expect(props.AttributeDefinitions).toContainEqual({ AttributeName: name, AttributeType: 'S' });
      },
    );

    it('every table is billed on demand (PAY_PER_REQUEST), with no provisioned throughput', () => {
      for (const [, table] of resourcesOfType(json, TABLE)) {
        expect(propsOf(table).BillingMode).toBe('PAY_PER_REQUEST');
        expect(JSON.stringify(table)).not.toContain('ProvisionedThroughput');
      }
    });

    it('every table has point-in-time recovery on', () => {
      for (const [, table] of resourcesOfType(json, TABLE)) {
        const replicas = replicasOf(table);
        expect(replicas.length).toBeGreaterThan(0);
        for (const replica of replicas)
          expect(replica.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled).toBe(true);
      }
    });

    it('signals expire through TTL on the "ttl" attribute; tables without a TTL attribute have none', () => {
      expect(propsOf(tableFor(json, 'dev', TABLES.signals)).TimeToLiveSpecification).toEqual({
        AttributeName: 'ttl',
        Enabled: true,
      });
      for (const [, definition] of definitions.filter(([, d]) => !d.ttlAttribute))
        expect(propsOf(tableFor(json, 'dev', definition)).TimeToLiveSpecification).toBeUndefined();
    });

    it.each([
      ['signals', 'byDay', 'day', 'receivedAt'],
      ['signals', 'byUndecided', 'undecided', 'receivedAt'],
      ['orders', 'byLifecycle', 'lifecycle', 'createdAt'],
    ] as const)(
      '%s has the %s index (partition %s, sort %s) projecting all attributes',
      (table, index, partition, sort) => {
        const props = propsOf(tableFor(json, 'dev', TABLES[table]));

        expect(props.GlobalSecondaryIndexes).toContainEqual({
          IndexName: index,
          KeySchema: [
            { AttributeName: partition, KeyType: 'HASH' },
            { AttributeName: sort, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        });
        expect(props.GlobalSecondaryIndexes).toHaveLength(TABLES[table].indexes.length);
        expect(props.AttributeDefinitions).toContainEqual({ AttributeName: partition, AttributeType: 'S' });
        expect(props.AttributeDefinitions).toContainEqual({ AttributeName: sort, AttributeType: 'S' });
      },
    );

    it('tables without indexes in TABLES have no secondary index', () => {
      for (const [, definition] of definitions.filter(([, d]) => d.indexes.length === 0))
        expect(propsOf(tableFor(json, 'dev', definition)).GlobalSecondaryIndexes).toBeUndefined();
    });

    it('dev tables are disposable: no deletion protection, deleted with the stack', () => {
      for (const [, table] of resourcesOfType(json, TABLE)) {
        for (const replica of replicasOf(table)) expect(replica.DeletionProtectionEnabled).toBe(false);
        expect(table.DeletionPolicy).toBe('Delete');
      }
    });
  });

  it('has one event bus, named pinebridge-dev', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'pinebridge-dev' });
  });

  describe('alert topic', () => {
    it('is encrypted with a rotating customer-managed key that EventBridge may use', () => {
      const [[, topic]] = resourcesOfType(json, 'AWS::SNS::Topic') as [[string, CfnResource]];
      const [[keyId, key]] = resourcesOfType(json, 'AWS::KMS::Key') as [[string, CfnResource]];

      expect(propsOf(topic).TopicName).toBe('pinebridge-dev-alerts');
      expect(renderValue(propsOf(topic).KmsMasterKeyId)).toBe(`<${keyId}.Arn>`);
      expect(propsOf(key).EnableKeyRotation).toBe(true);
      const statements = (propsOf(key).KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Principal: { Service: 'events.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Effect: 'Allow',
        }),
      );
    });

    it('accepts EventBridge’s publishes only from this account’s two notification rules (aws:SourceArn, aws:SourceAccount)', () => {
      const statements = resourcesOfType(json, 'AWS::SNS::TopicPolicy').flatMap(
        ([, policy]) =>
          (propsOf(policy).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );
      const fromEvents = statements.filter(
        (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'events.amazonaws.com' }),
      );
      const ruleArn = (name: string) =>
        `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/pinebridge-dev/${name}`;

      expect(fromEvents).toHaveLength(1);
      const [statement] = fromEvents as [Record<string, unknown>];
      expect(statement).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish' });
      const condition = statement.Condition as Record<string, Record<string, unknown>>;
      expect(Object.keys(condition).sort()).toEqual(['ArnEquals', 'StringEquals']);
      expect(condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
      expect(asList(condition.ArnEquals?.['aws:SourceArn']).map((arn) => renderValue(arn))).toEqual([
        ruleArn('pinebridge-dev-trading-state'),
        ruleArn('pinebridge-dev-broker-attention'),
      ]);
      // Those are the rules that target the topic, on this stage's bus, and no other rule does.
      const [topicId] = resourcesOfType(json, 'AWS::SNS::Topic')[0] ?? [];
      const [busId] = resourcesOfType(json, 'AWS::Events::EventBus')[0] ?? [];
      const publishing = resourcesOfType(json, 'AWS::Events::Rule')
        .map(([, rule]) => propsOf(rule))
        .filter((rule) =>
          asList(rule.Targets).some((t) => renderValue((t as { Arn: unknown }).Arn) === `<${topicId}>`),
        );
      expect(publishing.map((rule) => rule.Name).sort()).toEqual([
        'pinebridge-dev-broker-attention',
        'pinebridge-dev-trading-state',
      ]);
      for (const rule of publishing) expect(renderValue(rule.EventBusName)).toBe(`<${busId}>`);
    });

    it('lets EventBridge use the key only for this topic’s messages (the encryption context SNS binds to the topic), never unconditioned', () => {
      const [[, key]] = resourcesOfType(json, 'AWS::KMS::Key') as [[string, CfnResource]];
      const statements = (propsOf(key).KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
      const forEvents = statements.filter(
        (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'events.amazonaws.com' }),
      );

      // Not aws:SourceArn / aws:SourceAccount: AWS does not support them in a key policy for
      // EventBridge publishing to an encrypted topic, and every alert would be refused.
      expect(forEvents).toHaveLength(1);
      const [statement] = forEvents as [Record<string, unknown>];
      expect(statement.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
      const condition = statement.Condition as Record<string, Record<string, unknown>>;
      expect(Object.keys(condition)).toEqual(['StringEquals']);
      expect(Object.keys(condition.StringEquals ?? {})).toEqual(['kms:EncryptionContext:aws:sns:topicArn']);
      expect(renderValue(condition.StringEquals?.['kms:EncryptionContext:aws:sns:topicArn'])).toBe(
        'arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:pinebridge-dev-alerts',
      );
      expect(propsOf(resourcesOfType(json, 'AWS::SNS::Topic')[0]?.[1]).TopicName).toBe(
        'pinebridge-dev-alerts',
      );
    });

    it('refuses any publish not made over TLS', () => {
      const policies = resourcesOfType(json, 'AWS::SNS::TopicPolicy');
      const statements = policies.flatMap(
        ([, policy]) =>
          (propsOf(policy).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );

      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    });

    it('receives every "Trading State Changed" event from the bus, as a readable message', () => {
      const rules = resourcesOfType(json, 'AWS::Events::Rule').filter(([id]) =>
        id.startsWith('TradingStateChanged'),
      );
      expect(rules).toHaveLength(1);
      const props = propsOf(rules[0]?.[1]);
      const [topicId] = resourcesOfType(json, 'AWS::SNS::Topic')[0] ?? [];

      expect(props.EventPattern).toEqual({
        source: [TRADING_STATE_EVENT.source],
        'detail-type': [TRADING_STATE_EVENT.detailType],
      });
      const [target] = asList(props.Targets) as {
        Arn: unknown;
        InputTransformer?: { InputTemplate: string };
      }[];
      expect(renderValue(target?.Arn)).toBe(`<${topicId}>`);
      expect(target?.InputTransformer?.InputTemplate).toContain('<detail-reason>');
    });

    it('also receives "Order Unknown", "Position Mismatch" and "Emergency Stop Incomplete" events', () => {
      const rules = resourcesOfType(json, 'AWS::Events::Rule').filter(([id]) =>
        id.startsWith('BrokerAttention'),
      );
      expect(rules).toHaveLength(1);
      const props = propsOf(rules[0]?.[1]);
      const [topicId] = resourcesOfType(json, 'AWS::SNS::Topic')[0] ?? [];

      expect(props.EventPattern).toEqual({
        source: ['pinebridge.risk'],
        'detail-type': ['Order Unknown', 'Position Mismatch', 'Emergency Stop Incomplete'],
      });
      expect(renderValue((asList(props.Targets)[0] as { Arn: unknown }).Arn)).toBe(`<${topicId}>`);
    });

    it('has no subscription unless notifications.email is configured', () => {
      expect(resourcesOfType(json, 'AWS::SNS::Subscription')).toHaveLength(0);
      const { stateful } = buildTestApp({ config: { notifications: { email: 'trader@example.com' } } });
      const subscribed = Template.fromStack(stateful);

      subscribed.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'trader@example.com',
      });
    });
  });

  describe('alarms and undeliverable notifications', () => {
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:pinebridge-dev-*',
            ],
          ],
        },
      },
    };

    it('CloudWatch may publish to the topic and use its key, only for this account’s pinebridge-dev-* alarms', () => {
      const [[, key]] = resourcesOfType(json, 'AWS::KMS::Key') as [[string, CfnResource]];
      const keyStatements = (propsOf(key).KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
      const topicStatements = resourcesOfType(json, 'AWS::SNS::TopicPolicy').flatMap(
        ([, policy]) =>
          (propsOf(policy).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );

      expect(keyStatements).toContainEqual(
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: fromOurAlarms,
        }),
      );
      expect(topicStatements).toContainEqual(
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: fromOurAlarms,
        }),
      );
    });

    it('a notification EventBridge cannot deliver lands in an encrypted, SSL-only dead-letter queue', () => {
      const [[queueId, queue]] = resourcesOfType(json, 'AWS::SQS::Queue') as [[string, CfnResource]];
      expect(propsOf(queue)).toMatchObject({
        QueueName: 'pinebridge-dev-notification-dlq',
        SqsManagedSseEnabled: true,
      });
      const statements = resourcesOfType(json, 'AWS::SQS::QueuePolicy').flatMap(
        ([, p]) => (propsOf(p).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );

      const rules = resourcesOfType(json, 'AWS::Events::Rule');
      expect(rules).toHaveLength(2);
      for (const [id, rule] of rules) {
        const [target] = asList(propsOf(rule).Targets) as { DeadLetterConfig?: { Arn: unknown } }[];
        expect(renderValue(target?.DeadLetterConfig?.Arn), id).toBe(`<${queueId}.Arn>`);
      }
    });

    it('the dead-letter queue accepts EventBridge’s messages from each notification rule only', () => {
      const [[queueId]] = resourcesOfType(json, 'AWS::SQS::Queue') as [[string, CfnResource]];
      const statements = resourcesOfType(json, 'AWS::SQS::QueuePolicy').flatMap(
        ([, p]) => (propsOf(p).PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
      );
      const fromRules = statements.filter((st) => st.Action === 'sqs:SendMessage');

      expect(
        fromRules
          .map((st) =>
            renderValue((st.Condition as { ArnEquals: Record<string, unknown> }).ArnEquals['aws:SourceArn']),
          )
          .sort(),
      ).toEqual(
        resourcesOfType(json, 'AWS::Events::Rule')
          .map(([id]) => `<${id}.Arn>`)
          .sort(),
      );
      for (const statement of fromRules)
        expect(statement).toMatchObject({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
        });
    });

    it('so does an e-mail the subscription cannot deliver', () => {
      const { stateful } = buildTestApp({ config: { notifications: { email: 'trader@example.com' } } });
      const subscribed = Template.fromStack(stateful).toJSON() as CfnTemplate;
      const [[queueId]] = resourcesOfType(subscribed, 'AWS::SQS::Queue') as [[string, CfnResource]];
      const [[, subscription]] = resourcesOfType(subscribed, 'AWS::SNS::Subscription') as [
        [string, CfnResource],
      ];

      expect(propsOf(subscription).RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      });
    });
  });

  describe('Alpaca key secrets', () => {
    it('exist for paper and live, created empty ({"keyId": "", "secretKey": ""}) for the trader to fill in', () => {
      for (const mode of ['paper', 'live']) {
        const generate = propsOf(secretNamed(`pinebridge-dev/alpaca-${mode}`)).GenerateSecretString as Record<
          string,
          unknown
        >;

        expect(JSON.parse(String(generate.SecretStringTemplate))).toEqual({ keyId: '', secretKey: '' });
        expect(generate.GenerateStringKey).not.toMatch(/key/i);
      }
      // Webhook, dashboard, Alpaca paper and live, notification channels: no other secret.
      template.resourceCountIs('AWS::SecretsManager::Secret', 5);
    });
  });

  describe('notifications secret', () => {
    it('is created empty ({}) for the trader to put the channels’ variables in; nothing is generated into it', () => {
      const generate = propsOf(secretNamed('pinebridge-dev/notifications')).GenerateSecretString as {
        SecretStringTemplate: string;
        GenerateStringKey: string;
      };

      expect(JSON.parse(generate.SecretStringTemplate)).toEqual({});
      expect(generate.GenerateStringKey).toBe('unused');
    });
  });

  describe('dashboard secret', () => {
    it('is generated by Secrets Manager as {"password": <32 random characters>}, which the dashboard function accepts', async () => {
      const secret = secretNamed('pinebridge-dev/dashboard');
      const generate = propsOf(secret).GenerateSecretString as {
        SecretStringTemplate: string;
        GenerateStringKey: string;
        PasswordLength: number;
      };
      const generated = JSON.stringify({
        ...JSON.parse(generate.SecretStringTemplate),
        [generate.GenerateStringKey]: 'p'.repeat(generate.PasswordLength),
      });
      const reading = new SecretsManagerDashboardPassword('pinebridge-dev/dashboard', {
        send: async () => ({ SecretString: generated }),
      } as unknown as SecretsManagerClient);

      expect(generate.GenerateStringKey).toBe('password');
      expect(generate.PasswordLength).toBeGreaterThanOrEqual(32);
      expect(propsOf(secret)).not.toHaveProperty('SecretString');
      await expect(reading.get()).resolves.toBe('p'.repeat(generate.PasswordLength));
    });
  });

  describe('webhook secret', () => {
    it('is generated by Secrets Manager as a JSON object whose "current" key holds a long random string', () => {
      const secret = secretNamed('pinebridge-dev/webhook');
      const generate = propsOf(secret).GenerateSecretString as Record<string, unknown>;

      expect(propsOf(secret).Name).toBe('pinebridge-dev/webhook');
      expect(generate.GenerateStringKey).toBe('current');
      const templateObject = JSON.parse(String(generate.SecretStringTemplate)) as Record<string, unknown>;
      expect(templateObject).not.toHaveProperty('current');
      expect(generate.PasswordLength).toBeGreaterThanOrEqual(32);
    });

    it('the generated value is exactly what the webhook reads: {"current"}, later {"current", "previous", "previousValidUntil"}', async () => {
      const generate = propsOf(secretNamed('pinebridge-dev/webhook')).GenerateSecretString as {
        SecretStringTemplate: string;
        GenerateStringKey: string;
        PasswordLength: number;
      };
      // What Secrets Manager stores at deploy: the template with a random string under the key.
      const generated = JSON.stringify({
        ...JSON.parse(generate.SecretStringTemplate),
        [generate.GenerateStringKey]: 'x'.repeat(generate.PasswordLength),
      });
      const rotated = JSON.stringify({
        current: 'n'.repeat(40),
        previous: 'x'.repeat(40),
        previousValidUntil: '2026-12-01T00:00:00Z',
      });
      const reading = (secretString: string) =>
        new SecretsManagerWebhookSecrets('pinebridge-dev/webhook', {
          send: async () => ({ SecretString: secretString }),
        } as unknown as SecretsManagerClient).get();

      await expect(reading(generated)).resolves.toEqual({ current: 'x'.repeat(generate.PasswordLength) });
      const secrets = await reading(rotated);
      expect(matchSecret('x'.repeat(40), secrets, new Date('2026-11-30T00:00:00Z'))).toBe('previous');
      expect(matchSecret('x'.repeat(40), secrets, new Date('2026-12-02T00:00:00Z'))).toBeUndefined();
      expect(matchSecret('n'.repeat(40), secrets, new Date('2026-12-02T00:00:00Z'))).toBe('current');
    });

    it('has no secret value anywhere in the template', () => {
      const secret = secretNamed('pinebridge-dev/webhook');

      expect(propsOf(secret)).not.toHaveProperty('SecretString');
      const text = JSON.stringify(json);
      expect(text).not.toContain('"SecretString"');
      expect(text).not.toMatch(/resolve:secretsmanager/);
    });
  });
});

describe('StatefulStack (prod)', () => {
  let json: CfnTemplate;

  beforeAll(() => {
    const { stateful } = buildTestApp({ stage: 'prod' });
    json = Template.fromStack(stateful).toJSON() as CfnTemplate;
  });

  it('names everything for prod', () => {
    for (const [, definition] of definitions) tableFor(json, 'prod', definition);
    expect(propsOf(resourcesOfType(json, 'AWS::Events::EventBus')[0]?.[1]).Name).toBe('pinebridge-prod');
  });

  it('tables have deletion protection on and are retained on delete and on replacement', () => {
    const tables = resourcesOfType(json, TABLE);
    expect(tables).toHaveLength(definitions.length);
    for (const [, table] of tables) {
      for (const replica of replicasOf(table)) expect(replica.DeletionProtectionEnabled).toBe(true);
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('every secret is retained like the tables (alerts carry the webhook secret; keys, password and channel tokens are the trader’s)', () => {
    const secrets = resourcesOfType(json, 'AWS::SecretsManager::Secret');
    expect(secrets.map(([, s]) => propsOf(s).Name).sort()).toEqual([
      'pinebridge-prod/alpaca-live',
      'pinebridge-prod/alpaca-paper',
      'pinebridge-prod/dashboard',
      'pinebridge-prod/notifications',
      'pinebridge-prod/webhook',
    ]);
    for (const [id, secret] of secrets) {
      expect(secret.DeletionPolicy, id).toBe('Retain');
      expect(secret.UpdateReplacePolicy, id).toBe('Retain');
    }
  });

  it('tables keep point-in-time recovery on', () => {
    for (const [, table] of resourcesOfType(json, TABLE))
      for (const replica of replicasOf(table))
        expect(replica.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled).toBe(true);
  });
});

describe('stage context', () => {
  it('an invalid stage ("qa") is refused with a message naming "stage" and the bad value', () => {
    const app = new App({ context: synthContext('qa') });

    expect(() => buildApp(app, parseConfig({}))).toThrow(/"stage".*"qa"/);
  });

  it('no stage context means dev; "prod" is accepted', () => {
    expect(stageOf(new App())).toBe('dev');
    expect(stageOf(new App({ context: { stage: 'prod' } }))).toBe('prod');
  });
});
