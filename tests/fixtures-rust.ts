import path from "node:path";
import { makeGitRepo, tempDir } from "./helpers.js";

/** A cargo crate: a pass, an assert_eq failure, a panic, an ignored test; clippy flags `&Vec` (ptr_arg). */
export const RUST_FIXTURE: Record<string, string> = {
  "Cargo.toml": `[package]
name = "fixture"
version = "0.1.0"
edition = "2021"
`,
  ".gitignore": "target/\n",
  "src/lib.rs": `pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

pub fn mul(a: i32, b: i32) -> i32 {
    a + b
}

pub fn is_empty(v: &Vec<i32>) -> bool {
    v.len() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds() {
        assert_eq!(add(1, 2), 3);
    }

    #[test]
    fn muls() {
        assert_eq!(mul(2, 3), 6);
    }

    #[test]
    #[ignore]
    fn ignored() {}

    #[test]
    fn panics() {
        panic!("boom");
    }
}
`,
};

export async function makeRustFixture(): Promise<string> {
  return makeGitRepo(path.join(tempDir("oi gates rs "), "repo"), RUST_FIXTURE);
}
