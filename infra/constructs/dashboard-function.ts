import { Duration } from 'aws-cdk-lib';
import { LambdaIntegration, type RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { dashboardFunctionName } from '../../shared/config/names.js';
import { PinebridgeFunction } from './pinebridge-function.js';

export interface DashboardFunctionProps {
  stage: 'dev' | 'prod';
  environment: Record<string, string>;
  /** The login password's secret, JSON `{"password": "…"}` (the stateful stack generates it). */
  password: ISecret;
  /**
   * The name of the IAM-invoked admin function: the dashboard asks it for stop, resume and
   * reset-breaker, and for whatever needs the broker keys, which the dashboard never holds.
   */
  adminFunctionName: string;
}

/**
 * The dashboard's own API Gateway budgets (steady requests a second, burst), one token bucket per
 * method, apart from the webhook's: one trader's page, its few assets and its polling (two
 * requests every 10 s per open page), and the operator's actions. Keys are API Gateway stage
 * method paths (`/<resource path>/<METHOD>`; `//GET` is the root).
 */
export const DASHBOARD_THROTTLES = {
  '//GET': { throttlingRateLimit: 2, throttlingBurstLimit: 10 },
  '/assets/{file}/GET': { throttlingRateLimit: 5, throttlingBurstLimit: 20 },
  '/login/GET': { throttlingRateLimit: 2, throttlingBurstLimit: 10 },
  // Password guessing across Lambda containers (each also limits failures per address).
  '/login/POST': { throttlingRateLimit: 1, throttlingBurstLimit: 5 },
  '/logout/POST': { throttlingRateLimit: 1, throttlingBurstLimit: 5 },
  '/api/{proxy+}/GET': { throttlingRateLimit: 5, throttlingBurstLimit: 20 },
  // Stop, resume, reset-breaker: rare, and never behind anything else's queue.
  '/api/admin/{action}/POST': { throttlingRateLimit: 1, throttlingBurstLimit: 5 },
} as const satisfies Record<string, { throttlingRateLimit: number; throttlingBurstLimit: number }>;

/**
 * The web dashboard in AWS (functions/dashboard.ts): the same routes, login and operator requests
 * as the local bot's, polling instead of streaming (docs/DASHBOARD.md). Its bundling step builds
 * the pages and the script, lightweight-charts inside, into `dashboard/` beside the handler, so
 * the browser loads nothing from anywhere but the API.
 */
export class DashboardFunction extends PinebridgeFunction {
  constructor(scope: Construct, id: string, props: DashboardFunctionProps) {
    super(scope, id, {
      entry: 'dashboard',
      stage: props.stage,
      invokedBy: 'api',
      functionName: dashboardFunctionName(props.stage),
      // API Gateway answers 504 after 29 s; an emergency stop that takes longer still finishes in
      // the admin function (its outcome shows on the next poll), as it would through the CLI.
      timeout: Duration.seconds(60),
      description:
        'Web dashboard: login and status views behind the API; stop, resume and reset-breaker through the admin function',
      environment: props.environment,
      afterBundling: (inputDir, outputDir) => [dashboardAssetsCommand(inputDir, outputDir)],
    });
    this.bindSecret(props.password, 'DASHBOARD_SECRET_ID');
    this.bindInvoke(props.adminFunctionName, 'ADMIN_FUNCTION_NAME');
  }

  /**
   * Routes what shared/dashboard/routes.ts serves to this function: the page, its assets, login
   * and logout, the status views and the three admin actions (each with its DASHBOARD_THROTTLES
   * budget). Nothing else of the API reaches it.
   */
  addRoutes(api: RestApi): void {
    const integration = new LambdaIntegration(this);
    api.root.addMethod('GET', integration);
    api.root.addResource('assets').addResource('{file}').addMethod('GET', integration);
    const login = api.root.addResource('login');
    login.addMethod('GET', integration);
    login.addMethod('POST', integration);
    api.root.addResource('logout').addMethod('POST', integration);
    const status = api.root.addResource('api');
    status.addResource('{proxy+}').addMethod('GET', integration);
    status.addResource('admin').addResource('{action}').addMethod('POST', integration);
  }
}

/**
 * The bundling step: `tsx infra/dashboard/build.ts <outputDir>/dashboard` from the project root,
 * writing index.html, login.html, app.js, style.css and favicon.svg where the handler reads them.
 */
export function dashboardAssetsCommand(inputDir: string, outputDir: string): string {
  const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;
  return [
    quote(`${inputDir}/node_modules/.bin/tsx`),
    quote(`${inputDir}/infra/dashboard/build.ts`),
    quote(`${outputDir}/dashboard`),
  ].join(' ');
}
