import { it } from "vitest";

/** CI runs every suite: there a missing jail or toolchain is a failure, never a skip. */
export const IN_CI = process.env.CI === "true";

type TestBody = () => unknown;

/**
 * `it`, for a test that needs something the machine may lack (bubblewrap, go, cargo). Present: the test runs.
 * Absent: skipped on a developer machine, but under CI=true it runs and fails with `missing` (what to install).
 */
export function itWhen(
  ok: boolean,
  missing: string,
): (name: string, body: TestBody, timeoutMs?: number) => void {
  if (ok) return (name, body, timeoutMs) => it(name, body, timeoutMs);
  if (!IN_CI) return (name, body, timeoutMs) => it.skip(name, body, timeoutMs);
  return (name, _body, timeoutMs) =>
    it(
      name,
      () => {
        throw new Error(`CI=true and ${missing}: this test must run in CI, not be skipped`);
      },
      timeoutMs,
    );
}
