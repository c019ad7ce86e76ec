import { existsSync } from "node:fs";
import path from "node:path";
import { goToolchain } from "../../exec/toolchains.js";
import { buildGateEnv } from "../../gates/env.js";
import { lintGate } from "../../gates/lint-gate.js";
import { testsGate } from "../../gates/tests-gate.js";
import { COMMON_ORACLE, GO_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";

/** Go: go vet and go test, with the module cache mounted in the jail (offline). */
export const goProfile: Profile = {
  name: "go",
  description: "Go: go vet, go test",
  doctor: [
    {
      name: "go",
      file: "go",
      args: ["version"],
      install: "install Go: https://go.dev/dl (Debian: apt-get install golang-go)",
    },
  ],
  detect: (repo) => existsSync(path.join(repo, "go.mod")),
  commands: () => ({ test: "go test ./...", lint: "go vet ./...", fix: ["gofmt -w ."] }),
  gates: [lintGate, testsGate],
  gateEnv: ({ venv }) => buildGateEnv({ venv }),
  toolchain: goToolchain,
  oracle: [...COMMON_ORACLE, ...GO_ORACLE],
  usesVenv: false,
};
