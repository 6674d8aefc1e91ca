import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { TableDefinition } from '../../shared/adapters/dynamodb/tables.js';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../../shared/adapters/metrics.js';
import type { ItemAction } from './table-access.js';

/**
 * Who calls the function, which decides what a failed invocation needs: a synchronous caller
 * (API Gateway, Step Functions, an operator's `lambda invoke`) sees the error itself; a schedule
 * invokes asynchronously and runs again a minute later.
 */
export type InvokedBy = 'api' | 'workflow' | 'schedule' | 'operator' | 'queue' | 'bus' | 'appsync';

export interface PinebridgeFunctionProps
  extends Pick<
    NodejsFunctionProps,
    'timeout' | 'memorySize' | 'environment' | 'description' | 'functionName'
  > {
  /** File name under functions/, without extension. */
  entry: string;
  stage: 'dev' | 'prod';
  invokedBy: InvokedBy;
  /**
   * Source maps in stack traces (default true). Off for the latency-critical webhook: Node reads
   * the map at start with --enable-source-maps, which costs tens of milliseconds of every cold
   * start (bench/cold-start.ts), and the webhook logs errors as name and message only.
   */
  sourceMaps?: boolean;
  /**
   * Shell commands run on this machine after esbuild wrote the bundle into `outputDir` (which
   * becomes the function's code), from the project root (`inputDir`): files the handler reads at
   * run time, such as the dashboard's pages and script.
   */
  afterBundling?: (inputDir: string, outputDir: string) => string[];
}

const DLQ_REASON: Record<InvokedBy, string> = {
  api: 'Invoked synchronously by API Gateway: the caller gets the error (TradingView re-sends on a 5xx); a DLQ only applies to asynchronous invocations.',
  workflow:
    'Invoked synchronously by Step Functions: the state machine retries named errors and catches every fault into RecordFailure; a DLQ only applies to asynchronous invocations.',
  schedule:
    'Invoked by a schedule every minute: the next run is the retry, the scheduled event carries nothing worth keeping, and failures raise the Lambda-errors alarm.',
  operator:
    'Invoked synchronously by the operator (aws lambda invoke / the pinebridge CLI), who sees the error; a DLQ only applies to asynchronous invocations.',
  queue:
    'Reads an SQS queue whose own redrive policy parks a failing batch in its dead-letter queue (alarmed); a Lambda DLQ only applies to asynchronous invocations.',
  bus: 'Invoked asynchronously by an EventBridge rule with a live-update hint that is worthless a minute later: Lambda retries it, and one lost for good costs open pages at most their once-a-minute read (failures raise the Lambda-errors alarm).',
  appsync:
    'Invoked synchronously by AppSync as its Lambda authorizer: the connecting page sees the refusal and reconnects; a DLQ only applies to asynchronous invocations.',
};

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Credential providers Lambda never reaches. Lambda puts the role's credentials in the
 * environment, so the SDK's default chain stops at its first link (fromEnv); every later link is
 * loaded by a dynamic import() that therefore never runs. Leaving them out of the bundle saves
 * about 130 KB per function (bench/cold-start.ts). Were one ever reached, the import would fail
 * loudly ("Cannot find package"), not silently.
 */
export const UNREACHED_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/nested-clients',
  '@smithy/credential-provider-imds',
] as const;

/** The esbuild settings of every function, in one place (the cold-start benchmark builds with them too). */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  // Bundle the SDK v3 clients we use so their versions are the ones we tested.
  externalModules: [...UNREACHED_CREDENTIAL_PROVIDERS],
  banner: "import{createRequire}from'module';const require=createRequire(import.meta.url);",
} as const;
const functionsDir = `${projectRoot}functions/`;

/**
 * The one place Lambda defaults live: Node 22 on arm64, ESM bundles minified by the local
 * esbuild, X-Ray tracing, JSON logs into an explicit log group with a retention per stage.
 */
export class PinebridgeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PinebridgeFunctionProps) {
    const sourceMaps = props.sourceMaps ?? true;
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
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // The metrics' `stage` dimension: dev and prod may share an account.
        PINEBRIDGE_STAGE: props.stage,
        ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        ...props.environment,
      },
      bundling: {
        ...BUNDLING,
        sourceMap: sourceMaps,
        mainFields: [...BUNDLING.mainFields],
        externalModules: [...BUNDLING.externalModules],
        ...(props.afterBundling
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: props.afterBundling,
              },
            }
          : {}),
      },
    });
    this.acknowledgeDefaults(props.invokedBy);
  }

  /** Acknowledges the findings every function has by design, with the reason for each. */
  private acknowledgeDefaults(invokedBy: InvokedBy): void {
    const runtimeReason =
      'Pinebridge targets and tests on Node.js 22 (nodejs22.x); moving runtime is a deliberate, tested change.';
    Validations.of(this).acknowledge({ id: 'AwsSolutions-L1', reason: runtimeReason });
    Validations.of(this).acknowledge({ id: 'Serverless-LambdaLatestVersion', reason: runtimeReason });
    Validations.of(this).acknowledge({ id: 'Serverless-LambdaDLQ', reason: DLQ_REASON[invokedBy] });
    Validations.of(this.role ?? this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.',
    });
  }

  /**
   * Adds the table-name environment variable and the least-privilege grant together: `actions`
   * on this table, and `dynamodb:Query` on each index named (never `index/*`, and nothing but
   * Query on an index). With no actions and no index only the name is given: a function whose
   * dependencies name every table may call none of this one's.
   */
  bindTable(
    table: ITableV2,
    definition: TableDefinition,
    access: { actions: readonly ItemAction[]; indexes?: readonly string[] },
  ): this {
    this.addEnvironment(definition.envVar, table.tableName);
    const known = new Set(definition.indexes.map((index) => index.name));
    const unknown = (access.indexes ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new Error(`${definition.id} has no index ${unknown.join(', ')}`);
    if (access.actions.length > 0)
      this.addToRolePolicy(
        new PolicyStatement({
          actions: access.actions.map((action) => `dynamodb:${action}`),
          resources: [table.tableArn],
        }),
      );
    if ((access.indexes ?? []).length > 0)
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: (access.indexes ?? []).map((name) => `${table.tableArn}/index/${name}`),
        }),
      );
    return this;
  }

  /** EVENT_BUS_NAME and events:PutEvents on this one bus, together. */
  bindBus(bus: IEventBus): this {
    this.addEnvironment('EVENT_BUS_NAME', bus.eventBusName);
    bus.grantPutEventsTo(this);
    return this;
  }

  /**
   * A function's name in `envVar` and `lambda:InvokeFunction` on exactly that function (its
   * unqualified ARN: no version, no alias, no wildcard), together. By name, not by reference: the
   * admin function this serves refers to the API, whose routes refer to this function.
   */
  bindInvoke(functionName: string, envVar: string): this {
    this.addEnvironment(envVar, functionName);
    const functionArn = Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.addToRolePolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [functionArn] }),
    );
    return this;
  }

  /** The secret's ARN in `envVar` (never its value) and read access to this one secret, together. */
  bindSecret(secret: ISecret, envVar: string): this {
    this.addEnvironment(envVar, secret.secretArn);
    secret.grantRead(this);
    return this;
  }
}
