import { SQSClient } from '@aws-sdk/client-sqs';
import { startLocalSqs } from '../../local/sqs.js';

/** Local SQS and the SDK's client of it (as in AWS). */
export interface LocalSqsClient {
  readonly endpoint: string;
  readonly client: SQSClient;
  /** Destroys the client, then stops SQS. */
  stop(): Promise<void>;
}

export async function startSqsClient(): Promise<LocalSqsClient> {
  const sqs = await startLocalSqs();
  const client = new SQSClient({
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    endpoint: sqs.endpoint,
    client,
    async stop() {
      client.destroy();
      await sqs.stop();
    },
  };
}
