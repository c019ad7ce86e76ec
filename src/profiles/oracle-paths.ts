/**
 * The oracle, per language (each profile's `oracle` is built from these): what judges a candidate. Tests and their
 * infrastructure, checker configuration, golden projects, CI and lock files. A fix task may not change any of it
 * (policy rule `oracle-modified`), and before the gates run on a candidate Master's version of every oracle file is
 * put back over it (`restoreOracle`), so that a configuration form nobody listed still cannot change the verdict
 * through a file listed here.
 *
 * Globs (src/policy/paths.ts `globToRegExp`, matched case-insensitively): a pattern without `/` matches the file
 * name at any depth. Files that mix oracle and non-oracle content (pyproject.toml, setup.cfg, Cargo.toml,
 * package.json) are not listed: the policy compares their oracle sections (src/policy/rules/oracle.ts).
 */

/** Whatever the language: CI definitions, lock files, golden projects, recorded snapshots. */
export const COMMON_ORACLE: readonly string[] = [
  ".github/**",
  ".gitlab-ci.yml",
  ".gitlab/**",
  "azure-pipelines.yml",
  ".azure-pipelines/**",
  ".circleci/**",
  ".travis.yml",
  "Jenkinsfile",
  ".pre-commit-config.yaml",
  "*.lock",
  "**/golden/**",
  "**/__snapshots__/**",
];

export const PYTHON_ORACLE: readonly string[] = [
  "**/tests/**",
  "**/test/**",
  "test_*.py",
  "*_test.py",
  "conftest.py",
  // pytest: every configuration file form it reads (tox.ini is test configuration as a whole)
  "pytest.ini",
  ".pytest.ini",
  "pytest.toml",
  ".pytest.toml",
  "tox.ini",
  "noxfile.py",
  // checkers
  "ruff.toml",
  ".ruff.toml",
  "mypy.ini",
  ".mypy.ini",
  ".flake8",
  ".pylintrc",
  "pylintrc",
  ".coveragerc",
  "pyrightconfig.json",
  ".isort.cfg",
  // run at interpreter start-up, before any test: they decide what the tests import
  "sitecustomize.py",
  "usercustomize.py",
  "*.pth",
  // lock files of Python tools
  "Pipfile.lock",
  "poetry.lock",
  "uv.lock",
  "pdm.lock",
  "requirements*.lock",
];

export const NODE_ORACLE: readonly string[] = [
  "*.test.*",
  "*.spec.*",
  "**/__tests__/**",
  "**/test/**",
  "**/tests/**",
  "**/__mocks__/**",
  // test runners
  "vitest.config.*",
  "vitest.workspace.*",
  "vite.config.*",
  "jest.config.*",
  "jest.setup.*",
  ".mocharc*",
  "ava.config.*",
  "karma.conf.*",
  "playwright.config.*",
  ".c8rc*",
  ".nycrc*",
  // checkers (tsconfig: its strictness and `paths` decide what the type check and the tests see)
  "biome.json",
  "biome.jsonc",
  ".eslintrc*",
  "eslint.config.*",
  ".eslintignore",
  "tsconfig*.json",
  "jsconfig*.json",
  // lock files
  "package-lock.json",
  "npm-shrinkwrap.json",
  "pnpm-lock.yaml",
  "bun.lockb",
];

export const GO_ORACLE: readonly string[] = ["*_test.go", "**/testdata/**", ".golangci.*", "go.sum"];

/** `#[cfg(test)]` items inside source files are oracle too: the policy checks them in the diff. */
export const RUST_ORACLE: readonly string[] = [
  "**/tests/**",
  "**/benches/**",
  "clippy.toml",
  ".clippy.toml",
  "rustfmt.toml",
  ".rustfmt.toml",
  ".cargo/config",
  ".cargo/config.toml",
  "tests.rs",
  "rust-toolchain",
  "rust-toolchain.toml",
];

/** Any language: every profile's oracle (the generic profile's). */
export const EVERY_ORACLE: readonly string[] = [
  ...new Set([...COMMON_ORACLE, ...PYTHON_ORACLE, ...NODE_ORACLE, ...GO_ORACLE, ...RUST_ORACLE]),
];
