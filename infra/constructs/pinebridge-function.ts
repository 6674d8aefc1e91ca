import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { TableDefinition } from '../../shared/adapters/dynamodb/tables.js';

export interface PinebridgeFunctionProps
  extends Pick<
    NodejsFunctionProps,
    'timeout' | 'memorySize' | 'environment' | 'description' | 'functionName'
  > {
  /** File name under functions/, without extension. */
  entry: string;
  stage: 'dev' | 'prod';
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const functionsDir = `${projectRoot}functions/`;

/**
 * The one place Lambda defaults live: Node 22 on arm64, ESM bundles minified by the local
 * esbuild, X-Ray tracing, JSON logs into an explicit log group with a retention per stage.
 */
export class PinebridgeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PinebridgeFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.stage === 'prod' ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS,
      removalPolicy: props.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // An own role per function with only its log group's write access, instead of the
    // account-wide AWSLambdaBasicExecutionRole managed policy.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: `${functionsDir}${props.entry}.ts`,
      // Explicit, so synth works from any working directory (the local runtime, tests).
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      description: props.description,
      functionName: props.functionName,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'pinebridge',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        // Bundle the SDK v3 clients we use so their versions are the ones we tested.
        externalModules: [],
        banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
      },
    });
    this.acknowledgeDefaults();
  }

  /** Acknowledges the findings every function has by design, with the reason for each. */
  private acknowledgeDefaults(): void {
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinebridge targets and tests on Node.js 22 (nodejs22.x); moving runtime is a deliberate, tested change.',
    });
    Validations.of(this.role ?? this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.',
    });
  }

  /**
   * Adds the table-name environment variable and the least-privilege grant together: the item
   * actions the stores use, on this table and its named indexes only (no `index/*` wildcard).
   */
  bindTable(table: ITableV2, definition: TableDefinition, access: 'read' | 'readWrite'): this {
    this.addEnvironment(definition.envVar, table.tableName);
    const read = [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:Scan',
      'dynamodb:ConditionCheckItem',
    ];
    const write = [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ];
    this.addToRolePolicy(
      new PolicyStatement({
        actions: access === 'read' ? read : [...read, ...write],
        resources: [
          table.tableArn,
          ...definition.indexes.map((index) => `${table.tableArn}/index/${index.name}`),
        ],
      }),
    );
    return this;
  }
}
