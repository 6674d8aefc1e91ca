import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../shared/config/schema.js';

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
 * and returns the state machine definition and rule pattern exactly as they would deploy. The
 * CDK is imported here, when asked for: a start that finds the flow cached never loads it.
 */
export async function synthesizeFlow(config: Config): Promise<SynthesizedFlow> {
  const [{ App }, { buildApp }] = await Promise.all([import('aws-cdk-lib'), import('../app.js')]);
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

/** The files a synthesized flow depends on: the app's sources and the locked CDK version. */
function sourceFiles(root: string): string[] {
  const files: string[] = [join(root, 'package-lock.json')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(root, 'infra'));
  walk(join(root, 'shared'));
  return files;
}

/**
 * synthesizeFlow, kept in `cacheDir` under a key made of the config and every source file the
 * synthesis reads (infra/, shared/, package-lock.json): a start with nothing changed reads the
 * definition back instead of synthesizing the CDK app again (seconds), and any change to the
 * code, the CDK version or the config synthesizes afresh.
 */
export async function synthesizeFlowCached(config: Config, cacheDir: string): Promise<SynthesizedFlow> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const hash = createHash('sha256').update(JSON.stringify(config));
  for (const file of sourceFiles(root)) hash.update(file.slice(root.length)).update(readFileSync(file));
  const path = join(cacheDir, `flow-${hash.digest('hex').slice(0, 32)}.json`);
  if (existsSync(path)) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as SynthesizedFlow;
    } catch {
      // Unreadable (a write cut short): synthesize again below.
    }
  }
  const flow = await synthesizeFlow(config);
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  // Only this key's entry is kept: older ones are for code or config no longer running.
  for (const old of readdirSync(cacheDir))
    if (old.startsWith('flow-')) rmSync(join(cacheDir, old), { force: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(flow));
  renameSync(`${path}.tmp`, path);
  return flow;
}
