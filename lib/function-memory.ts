/**
 * Memory of the worker function (claim, heartbeat, complete, GET /workers), in MB; the constructs
 * and the benchmark's prices read it (this module imports nothing, so the benchmark need not load CDK).
 *
 * 128 MB, the smallest: an idle worker keeps one claim in flight all the time, so the function is
 * billed for 30 days of GB-s per idle worker whatever its wait, and its memory is the whole price
 * (at 512 MB $17.28 a month on Graviton, at 128 MB $4.32). Its work is I/O (a few DynamoDB and SQS
 * calls a request); the CPU that comes with 128 MB (about 1/14 of a vCPU) makes each request a
 * little slower and a cold start slower still, both far below the 500 ms poll this replaced.
 */
export const WORKER_FUNCTION_MEMORY_MB = 128;
