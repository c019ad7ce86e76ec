/**
 * Fault injection for the crash-safety tests: with `ODIBI_IMPROVE_CRASH_AT=<point>` the process kills itself with
 * SIGKILL when it reaches that point (a real kill -9: no cleanup, no `finally`). Points are the journal's steps
 * (right after the step is written) and, inside a promotion, `promote:committed` (the sandbox's commit made),
 * `promote:fetched` (the commit fetched into Master) and `promote:merging` (Master's tree and index moved to the
 * commit, its branch not yet), and in `resync` `resync:picked` (a commit replayed on Master's detached HEAD). Never
 * set in normal use.
 */
export function crashPoint(point: string): void {
  if (process.env.ODIBI_IMPROVE_CRASH_AT === point) process.kill(process.pid, "SIGKILL");
}

/** Whether the run is to be killed at `point` (for a point that first sets up the state a kill there leaves). */
export function crashingAt(point: string): boolean {
  return process.env.ODIBI_IMPROVE_CRASH_AT === point;
}
