import path from "node:path";

/** The environment on disk (DESIGN.md §1). All paths derive from the root. */
export interface Layout {
  root: string;
  config: string;
  status: string;
  master: string;
  sandboxes: string;
  snapshots: string;
  golden: string;
  memory: string;
  reports: string;
  stories: string;
  trajectories: string;
  /** Written by versions before the event log; read once to take such a root over (events/log.ts). */
  journal: string;
  /** The event log of the campaigns (events/log.ts). */
  events: string;
  /** The run logs, one per campaign (events/run-log.ts). */
  logs: string;
  /** Internal state: Sacred fingerprint, locks, caches. */
  state: string;
  sacredFingerprint: string;
  stopRequest: string;
  gateCache: string;
  /** The tests gate's plans for Master: the parallel verdict and the per-test coverage maps (src/gates). */
  testPlans: string;
  /** Held by the one campaign running on this root (and by `rollback`): pid + host. */
  runLock: string;
  /** A node repository's dependencies, above Master and the sandboxes (node finds them by walking up). */
  nodeModules: string;
  /** A python repository's third-party packages (`pip install --target`), on the gates' PYTHONPATH. */
  pythonPackages: string;
}

export function layoutOf(root: string): Layout {
  const r = path.resolve(root);
  const state = path.join(r, ".odibi-improve");
  return {
    root: r,
    config: path.join(r, "config.yaml"),
    status: path.join(r, "status.json"),
    master: path.join(r, "master"),
    sandboxes: path.join(r, "sandboxes"),
    snapshots: path.join(r, "snapshots"),
    golden: path.join(r, "golden"),
    memory: path.join(r, "memory"),
    reports: path.join(r, "reports"),
    stories: path.join(r, "stories"),
    trajectories: path.join(r, "trajectories"),
    journal: path.join(r, "journal.jsonl"),
    events: path.join(r, "events.jsonl"),
    logs: path.join(r, "logs"),
    state,
    sacredFingerprint: path.join(state, "sacred-fingerprint.json"),
    stopRequest: path.join(r, "STOP"),
    gateCache: path.join(state, "gate-cache"),
    testPlans: path.join(state, "test-plans"),
    runLock: path.join(state, "run.lock"),
    nodeModules: path.join(r, "node_modules"),
    pythonPackages: path.join(r, "python_packages"),
  };
}

/** Folders init creates. */
export const LAYOUT_DIRS = [
  "sandboxes",
  "snapshots",
  "golden",
  "memory",
  "reports",
  "stories",
  "trajectories",
  "state",
] as const;

/** Names init owns at the top of a root (moved aside, never deleted, by `init --force`). */
export const OWNED_NAMES = [
  "config.yaml",
  "status.json",
  "master",
  "sandboxes",
  "snapshots",
  "golden",
  "memory",
  "reports",
  "stories",
  "trajectories",
  "journal.jsonl",
  "events.jsonl",
  "logs",
  ".odibi-improve",
  "STOP",
  "node_modules",
  "python_packages",
];

/** Sandbox folder name for a cycle id: `cycle_001` for 1, or the id itself when it is already a name. */
export function sandboxName(cycleId: string | number): string {
  if (typeof cycleId === "number" || /^\d+$/.test(cycleId))
    return `cycle_${String(cycleId).padStart(3, "0")}`;
  if (!/^[A-Za-z0-9._-]+$/.test(cycleId))
    throw new Error(`invalid sandbox id "${cycleId}": use letters, digits, . _ -`);
  return cycleId;
}
