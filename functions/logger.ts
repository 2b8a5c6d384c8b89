import { Logger } from '@aws-lambda-powertools/logger';

/** One structured logger per function (module scope), as Powertools intends. */
export const logger = new Logger({ serviceName: 'schedule-execution-service' });
