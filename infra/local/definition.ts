import { App } from 'aws-cdk-lib';
import type { Config } from '../../shared/config/schema.js';
import { buildApp } from '../app.js';

/** The parts of the synthesized stack the local runtime executes. */
export interface SynthesizedFlow {
  /** The Amazon States Language definition of the trade flow, as deployed. */
  definition: Record<string, unknown>;
  /** The EventBridge rule pattern that starts it, as deployed. */
  eventPattern: Record<string, unknown>;
}

const LOCAL_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:pinebridge-local';

type CfnValue = string | { [key: string]: unknown };

/** Resolves the Fn::Join CDK emits for DefinitionString; function ARNs become a local placeholder. */
function joinDefinition(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, CfnValue[]] })['Fn::Join'];
  if (!join) throw new Error('unexpected DefinitionString shape in the synthesized template');
  const [separator, parts] = join;
  return parts.map((part) => (typeof part === 'string' ? part : LOCAL_ARN)).join(separator);
}

/**
 * Synthesizes the real CDK app in-process (Lambda bundling skipped: the code runs in-process)
 * and returns the state machine definition and rule pattern exactly as they would deploy.
 */
export function synthesizeFlow(config: Config): SynthesizedFlow {
  const app = new App({
    context: {
      stage: 'dev',
      'aws:cdk:bundling-stacks': [],
      '@aws-cdk/core:defaultCrossStackReferences': 'strong',
    },
    outdir: undefined,
  });
  const { stateless } = buildApp(app, config, { nag: false });
  const assembly = app.synth();
  const template = assembly.getStackByName(stateless.stackName).template as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const resources = Object.values(template.Resources);
  const machine = resources.find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const rule = resources.find((r) => r.Type === 'AWS::Events::Rule');
  if (!machine || !rule) throw new Error('the synthesized stack has no state machine or no rule');
  return {
    definition: JSON.parse(joinDefinition(machine.Properties.DefinitionString)) as Record<string, unknown>,
    eventPattern: rule.Properties.EventPattern as Record<string, unknown>,
  };
}
