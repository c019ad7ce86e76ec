import { describe, expect, it } from "vitest";
import { createLlmClient } from "../src/llm/client.js";
import { DEFAULT_KEY_ENV } from "../src/llm/providers/index.js";
import {
  createRedactor,
  processRedactor,
  processSecretNames,
  secretsInEnvironment,
} from "../src/llm/redact.js";
import { testSettings } from "./llm-fixtures.js";

const VALUE = "s3cr3t-value-123";

describe("secretsInEnvironment", () => {
  it("takes every provider's key variable and every name that looks secret", () => {
    const names = [
      ...Object.values(DEFAULT_KEY_ENV),
      "AZURE_OPENAI_API_KEY",
      "GITHUB_TOKEN",
      "AWS_SECRET_ACCESS_KEY",
      "PGPASSWORD",
      "SMTP_PASSWD",
      "GOOGLE_CREDENTIALS",
      "NPM_AUTH",
      "SSH_PRIVATE",
      "AWS_SESSION_TOKEN",
      "APP_SESSION",
      "JIRA_COOKIE",
      "DB_CONNECTION_STRING",
    ];
    const env = Object.fromEntries(names.map((n, i) => [n, `${VALUE}-${i}`]));
    expect(secretsInEnvironment(env).map((s) => s.name)).toEqual(names);
  });

  it("skips short values, existing paths, and names that only look secret", () => {
    const env = {
      API_TOKEN: "1",
      MY_KEY: "short",
      GOOGLE_APPLICATION_CREDENTIALS: process.cwd(),
      GIT_AUTHOR_NAME: "Odibi Improve",
      XDG_SESSION_TYPE: "wayland",
      DESKTOP_SESSION: "ubuntu",
      SSH_AUTH_SOCK: "/tmp/ssh-nothere/agent.1",
      TOKENIZERS_PARALLELISM: "false-ish",
      PWD: "/nonexistent/dir",
      HOME: "/home/someone-long",
    };
    expect(secretsInEnvironment(env)).toEqual([]);
  });

  it("takes a URL with a password whatever its variable is called", () => {
    expect(
      secretsInEnvironment({ DATABASE_URL: "postgres://app:pw123456@db/app", SITE: "https://a.b/c" }),
    ).toEqual([{ name: "DATABASE_URL", value: "postgres://app:pw123456@db/app" }]);
  });
});

describe("createRedactor", () => {
  const r = createRedactor([
    { name: "QUOTED_TOKEN", value: 'ab"cd\\ef12' },
    { name: "X_KEY", value: VALUE },
  ]);

  it("replaces every occurrence with the variable's name, also in JSON text where the value is escaped", () => {
    expect(r.text(`a ${VALUE} b ${VALUE}`)).toBe("a [REDACTED:X_KEY] b [REDACTED:X_KEY]");
    const json = JSON.stringify({ out: 'printed ab"cd\\ef12 here' });
    expect(json).not.toContain('ab"cd\\ef12');
    expect(r.text(json)).toBe('{"out":"printed [REDACTED:QUOTED_TOKEN] here"}');
    expect(JSON.parse(r.text(json))).toEqual({ out: "printed [REDACTED:QUOTED_TOKEN] here" });
  });

  it("redacts every string of a JSON-like value and leaves other objects as they are", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const v = r.value({ messages: [{ content: [{ type: "text", text: VALUE }] }], bytes, n: 1 });
    expect(v).toEqual({ messages: [{ content: [{ type: "text", text: "[REDACTED:X_KEY]" }] }], bytes, n: 1 });
    expect(v.bytes).toBe(bytes);
  });
});

describe("the process-wide redactor", () => {
  it("takes the LLM key also from a variable whose name does not look secret", () => {
    const key = "k-from-a-plain-name-0042";
    expect(processRedactor().text(key)).toBe(key);
    createLlmClient(testSettings("openai-compatible", "http://127.0.0.1:9/v1", { apiKeyEnv: "MY_LLM_VAR" }), {
      env: { MY_LLM_VAR: key },
    });
    expect(processRedactor().text(`saw ${key}`)).toBe("saw [REDACTED:MY_LLM_VAR]");
    expect(processSecretNames()).toContain("MY_LLM_VAR");
  });
});
