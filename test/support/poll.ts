/**
 * Waiting on what has no event to await (another process's pid, a file another process writes):
 * re-checks every few milliseconds until the condition holds, and fails after a deadline.
 */
export async function until<T>(check: () => T | undefined | null | false, description: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${description}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
