/**
 * The names a deployed stage is found by, in one place: the CDK app gives resources these names and
 * the `pinebridge --stage` CLI looks them up with them.
 */
export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

export const resourcePrefix = (stage: Stage) => `pinebridge-${stage}`;
export const stackNames = (stage: Stage) => ({
  stateful: `Pinebridge-${stage}-Stateful`,
  stateless: `Pinebridge-${stage}-Stateless`,
});
/** The IAM-invoked operator function (stop, resume, reset-breaker and the read-only views). */
export const adminFunctionName = (stage: Stage) => `${resourcePrefix(stage)}-admin`;
export const webhookSecretName = (stage: Stage) => `${resourcePrefix(stage)}/webhook`;
/** The web dashboard's function (behind the API): named so its logs are found by name. */
export const dashboardFunctionName = (stage: Stage) => `${resourcePrefix(stage)}-dashboard`;
/** The web dashboard's login password (JSON `{"password": "…"}`), read by the dashboard function. */
export const dashboardSecretName = (stage: Stage) => `${resourcePrefix(stage)}/dashboard`;
