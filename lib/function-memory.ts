/**
 * Memory of the claims function (POST /worker/tasks/claim, the long poll), in MB; the constructs and
 * the benchmark's prices read it (this module imports nothing, so the benchmark need not load CDK).
 *
 * 128 MB, the smallest: an idle worker keeps one claim in flight all the time, so the function is
 * billed for 30 days of GB-s per idle worker whatever its wait, and its memory is the whole price
 * (at 512 MB $17.28 a month on Graviton, at 128 MB $4.32). Its work is I/O (a few DynamoDB and SQS
 * calls a claim); the CPU that comes with 128 MB (about 1/14 of a vCPU) makes each claim a little
 * slower and a cold start slower still, both far below the 500 ms poll this replaced. Heartbeats and
 * completes are the worker function's, at the default memory: neither is held open, and a
 * completion does the most work of a step's calls.
 */
export const CLAIMS_FUNCTION_MEMORY_MB = 128;
