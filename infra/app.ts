import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadConfigFile } from '../shared/config/load.js';
import { type Stage, stackNames } from '../shared/config/names.js';
import type { Config } from '../shared/config/schema.js';
import { StatefulStack } from './stacks/stateful-stack.js';
import { StatelessStack } from './stacks/stateless-stack.js';

export type { Stage };

export function stageOf(app: App): Stage {
  const stage = app.node.tryGetContext('stage') ?? 'dev';
  if (stage !== 'dev' && stage !== 'prod') {
    throw new Error(
      `CDK context "stage" must be "dev" or "prod", got "${String(stage)}" (use -c stage=prod)`,
    );
  }
  return stage;
}

/**
 * The whole app: both stacks, with cdk-nag's AwsSolutions and Serverless packs failing synth on
 * any unacknowledged finding.
 */
export function buildApp(
  app: App,
  config: Config,
  options: { nag?: boolean } = {},
): { stateful: StatefulStack; stateless: StatelessStack } {
  const stage = stageOf(app);
  const names = stackNames(stage);
  const stateful = new StatefulStack(app, names.stateful, {
    stage,
    notificationEmail: config.notifications.email,
  });
  const stateless = new StatelessStack(app, names.stateless, {
    stage,
    config,
    tables: stateful.tables,
    bus: stateful.bus,
    webhookSecret: stateful.webhookSecret,
    dashboardSecret: stateful.dashboardSecret,
    alpacaSecrets: stateful.alpacaSecrets,
    alertTopic: stateful.alertTopic,
    notificationDeadLetters: stateful.notificationDeadLetters,
    notificationsSecret: stateful.notificationsSecret,
  });
  // Functions, workflow and alarms reference the tables, bus, secrets and topic: deploy data first.
  stateless.addStackDependency(
    stateful,
    'functions, workflow and alarms use its tables, bus, secrets and topic',
  );
  // The local runtime only reads the definition back; every synth for deployment runs the checks.
  if (options.nag ?? true)
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { stateful, stateless };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = new App();
  buildApp(app, loadConfigFile());
  app.synth();
}
