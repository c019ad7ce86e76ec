import { existsSync } from "node:fs";
import path from "node:path";
import { rustToolchain } from "../../exec/toolchains.js";
import { buildGateEnv } from "../../gates/env.js";
import { lintGate } from "../../gates/lint-gate.js";
import { testsGate } from "../../gates/tests-gate.js";
import { COMMON_ORACLE, RUST_ORACLE } from "../oracle-paths.js";
import type { Profile } from "../profile.js";

/** Rust: cargo clippy and cargo test, with rustup's toolchain mounted in the jail (offline). */
export const rustProfile: Profile = {
  name: "rust",
  description: "Rust: cargo clippy, cargo test",
  doctor: [
    {
      name: "cargo",
      file: "cargo",
      args: ["--version"],
      install: "install Rust with rustup: https://rustup.rs",
    },
    {
      name: "clippy",
      file: "cargo",
      args: ["clippy", "--version"],
      install: "rustup component add clippy (Debian: apt-get install rust-clippy)",
    },
  ],
  detect: (repo) => existsSync(path.join(repo, "Cargo.toml")),
  commands: () => ({ test: "cargo test", lint: "cargo clippy --message-format=json", fix: ["cargo fmt"] }),
  gates: [lintGate, testsGate],
  gateEnv: ({ venv }) => buildGateEnv({ venv }),
  toolchain: rustToolchain,
  oracle: [...COMMON_ORACLE, ...RUST_ORACLE],
  usesVenv: false,
};
