import { RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TABLES, type TableKey } from '../../shared/adapters/dynamodb/tables.js';

export interface StatefulStackProps extends StackProps {
  stage: 'dev' | 'prod';
}

/** What holds data: the tables, the bus and the webhook secret. */
export class StatefulStack extends Stack {
  readonly tables: Record<TableKey, TableV2>;
  readonly bus: EventBus;
  readonly webhookSecret: Secret;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const prod = props.stage === 'prod';
    const prefix = `pinebridge-${props.stage}`;

    this.tables = Object.fromEntries(
      Object.entries(TABLES).map(([key, def]) => {
        const table = new TableV2(this, `${def.id}-table`, {
          tableName: `${prefix}-${def.id}`,
          partitionKey: { name: def.partitionKey, type: AttributeType.STRING },
          ...('sortKey' in def ? { sortKey: { name: def.sortKey, type: AttributeType.STRING } } : {}),
          ...('ttlAttribute' in def ? { timeToLiveAttribute: def.ttlAttribute } : {}),
          globalSecondaryIndexes: def.indexes.map((index) => ({
            indexName: index.name,
            partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
            sortKey: { name: index.sortKey, type: AttributeType.STRING },
          })),
          billing: Billing.onDemand(),
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          deletionProtection: prod,
          removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        });
        return [key, table];
      }),
    ) as Record<TableKey, TableV2>;

    this.bus = new EventBus(this, 'Bus', { eventBusName: prefix });

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      secretName: `${prefix}/webhook`,
      // Every TradingView alert carries this secret: in prod it outlives the stack, like the tables.
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      description:
        'TradingView webhook secret: {"current", "previous"?, "previousValidUntil"?}. Rotate by moving current to previous with a deadline.',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'current',
        passwordLength: 40,
        excludePunctuation: true,
      },
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The webhook secret is pasted into TradingView alerts, so rotation is a manual, two-secret procedure (docs/DEPLOYMENT.md).',
    });
  }
}
