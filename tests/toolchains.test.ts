import { mkdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { goToolchain, rustToolchain } from "../src/exec/toolchains.js";
import { profileOf } from "../src/profiles/index.js";
import { tempDir } from "./helpers.js";

describe("toolchain mounts for the jail", () => {
  const home = tempDir();
  for (const d of [".cargo", ".rustup", "go/pkg/mod"]) mkdirSync(path.join(home, d), { recursive: true });

  it("rust: rustup's homes from HOME or the variables, only those that exist; always offline", () => {
    expect(rustToolchain({ home, env: {} })).toEqual({
      readOnly: [path.join(home, ".cargo"), path.join(home, ".rustup")],
      env: {
        CARGO_HOME: path.join(home, ".cargo"),
        RUSTUP_HOME: path.join(home, ".rustup"),
        CARGO_NET_OFFLINE: "true",
      },
    });
    const cargoHome = tempDir();
    expect(rustToolchain({ home: tempDir(), env: { CARGO_HOME: cargoHome } })).toEqual({
      readOnly: [cargoHome],
      env: { CARGO_HOME: cargoHome, CARGO_NET_OFFLINE: "true" },
    });
  });

  it("go: the module cache (GOMODCACHE, else the first GOPATH entry's), no proxy, local toolchain, cycle cache", () => {
    const scratch = tempDir();
    expect(goToolchain({ home, env: {}, scratch })).toEqual({
      readOnly: [path.join(home, "go", "pkg", "mod")],
      env: {
        GOMODCACHE: path.join(home, "go", "pkg", "mod"),
        GOPROXY: "off",
        GOTOOLCHAIN: "local",
        GOCACHE: path.join(scratch, "go-build"),
      },
    });
    const gopath = tempDir();
    mkdirSync(path.join(gopath, "pkg", "mod"), { recursive: true });
    const other = goToolchain({ home, env: { GOPATH: `${gopath}${path.delimiter}/elsewhere` } });
    expect(other.readOnly).toEqual([path.join(gopath, "pkg", "mod")]);
    expect(other.env.GOCACHE).toBeUndefined();
  });

  it("the rust and go profiles mount theirs; other profiles: nothing", () => {
    expect(profileOf("rust").toolchain).toBe(rustToolchain);
    expect(profileOf("go").toolchain).toBe(goToolchain);
    for (const p of ["odibi", "python", "node", "generic"]) expect(profileOf(p).toolchain).toBeUndefined();
  });
});
