import { App } from 'aws-cdk-lib';
import { readConfig } from '../lib/config.js';
import { addNagChecks } from '../lib/nag.js';
import { ServiceStack } from '../lib/service-stack.js';

/** The CDK app (`cdk synth`, `cdk deploy`): settings come from context, see `lib/config.ts`. */
const app = new App();
new ServiceStack(app, 'ScheduleExecutionService', {
  config: readConfig(app.node),
  description:
    'Schedule execution service: schedules, executions, worker tasks and API keys behind a REST API, run by Step Functions',
});
// cdk-nag's AWS Solutions checks: an unacknowledged finding fails `cdk synth` and `cdk deploy`.
addNagChecks(app);
