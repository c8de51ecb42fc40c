import { EXIT_BAD_DATA, type Outcome, type RetryPolicy } from './types.js';

/** Exit codes of a failed attempt that mean "science failure": never retried. */
export function isScienceFailure(outcome: Outcome): boolean {
  return !outcome.signal && outcome.exitCode === EXIT_BAD_DATA;
}

/**
 * What a failed attempt leads to: FAILED for good (bad data, or out of attempts), or back to
 * PENDING with an exponential backoff (signals, out-of-memory 137, other exit codes, errors).
 */
export function afterFailure(
  attempts: number,
  maxAttempts: number,
  outcome: Outcome,
  policy: RetryPolicy,
  now: number,
): { state: 'FAILED' } | { state: 'PENDING'; notBefore: number } {
  if (isScienceFailure(outcome) || attempts >= maxAttempts) return { state: 'FAILED' };
  return { state: 'PENDING', notBefore: now + backoffSeconds(attempts, policy) };
}

/** Delay before attempt `attempts + 1`: backoff · 2^(attempts−1), capped. */
export function backoffSeconds(attempts: number, policy: RetryPolicy): number {
  if (policy.backoffSeconds <= 0) return 0;
  return Math.min(policy.maxBackoffSeconds, policy.backoffSeconds * 2 ** Math.max(0, attempts - 1));
}

/** One-line description of a failed attempt for the task's `error` column. */
export function describeFailure(o: Outcome): string {
  const parts: string[] = [];
  if (o.signal) parts.push(`killed by ${o.signal}`);
  else if (o.exitCode != null) parts.push(`exit code ${o.exitCode}${o.exitCode === EXIT_BAD_DATA ? ' (bad data, not retried)' : ''}`);
  if (o.error) parts.push(o.error);
  return parts.join(': ') || 'failed';
}
