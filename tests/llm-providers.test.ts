import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { brainToolSet } from "../src/brain/tools.js";
import { parseConfig } from "../src/config/load.js";
import { ExitCode, UsageError } from "../src/core/errors.js";
import { createLlmClient } from "../src/llm/client.js";
import { LlmError } from "../src/llm/errors.js";
import { llmOptionsFromFlags } from "../src/llm/options.js";
import { costOf, priceFor } from "../src/llm/pricing.js";
import type { LlmSettings } from "../src/llm/types.js";
import { makeCalcRepo, pytestGates, runScriptedBrain, testSettings } from "./llm-fixtures.js";
import { requestText, type ScriptedLlmServer, startLlmServer } from "./llm-server.js";

let server: ScriptedLlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** One real request through the client; returns what the server saw. */
async function oneRequest(settings: (origin: string) => LlmSettings, env: NodeJS.ProcessEnv) {
  server = await startLlmServer([{ type: "text", text: "hello" }]);
  const client = createLlmClient(settings(server.origin), { env });
  const r = await client.step({
    system: "sys",
    messages: [{ role: "user", content: "hi" }],
    tools: brainToolSet(),
  });
  expect(r.text).toBe("hello");
  return server.requests[0]!;
}

describe("providers hit the right paths with the right headers", () => {
  it("azure with a dated api version: deployment URL, api-version query, api-key header", async () => {
    const req = await oneRequest(
      (origin) =>
        testSettings("azure", origin, { azure: { deployment: "prod-gpt4o-mini", apiVersion: "2024-10-21" } }),
      { AZURE_API_KEY: "azure-key-123456" },
    );
    expect(req.path).toBe("/openai/deployments/prod-gpt4o-mini/chat/completions");
    expect(req.query["api-version"]).toBe("2024-10-21");
    expect(req.headers["api-key"]).toBe("azure-key-123456");
    expect(req.headers.authorization).toBeUndefined();
  });

  it("azure v1 API: /openai/v1 endpoint, the deployment as model, AZURE_OPENAI_API_KEY accepted", async () => {
    const req = await oneRequest(
      (origin) => testSettings("azure", `${origin}/openai/v1`, { azure: { deployment: "my-deployment" } }),
      { AZURE_OPENAI_API_KEY: "azure-key-abcdef" },
    );
    expect(req.path).toBe("/openai/v1/chat/completions");
    expect(req.body.model).toBe("my-deployment");
    expect(req.headers["api-key"]).toBe("azure-key-abcdef");
  });

  it("azure without endpoint or resource is a config error", () => {
    expect(() =>
      createLlmClient(testSettings("azure", ""), { env: { AZURE_API_KEY: "k-123456" } }),
    ).toThrowError(/needs an endpoint or a resource name/);
  });

  it("ollama: its OpenAI-compatible /v1, no key needed (and none sent)", async () => {
    const req = await oneRequest(
      (origin) => testSettings("ollama", `${origin}/v1`, { model: "qwen2.5-coder:7b" }),
      {},
    );
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.body.model).toBe("qwen2.5-coder:7b");
    expect(req.body.tools.length).toBe(7);
    expect(req.headers.authorization).toBeUndefined();
  });

  it("openai-compatible: any base URL, key from the variable named by api_key_env", async () => {
    const req = await oneRequest(
      (origin) =>
        testSettings("openai-compatible", `${origin}/api/v1`, { model: "m", apiKeyEnv: "MY_LLM_KEY" }),
      { MY_LLM_KEY: "custom-key-7890" },
    );
    expect(req.path).toBe("/api/v1/chat/completions");
    expect(req.headers.authorization).toBe("Bearer custom-key-7890");
  });

  it("anthropic: /v1/messages with x-api-key and anthropic-version; the brain fixes the bug over that protocol", async () => {
    const python = inject("python");
    const initial = await pytestGates(python, await makeCalcRepo())({ scope: "full", only: [] });
    const run = await runScriptedBrain({
      provider: "anthropic",
      settings: { model: "claude-3-5-haiku-20241022" },
      env: { ANTHROPIC_API_KEY: "anthropic-key-xyz" },
      initial,
      python,
      script: [
        { type: "tools", text: "Let me look.", calls: [{ name: "view_file", args: { path: "calc.py" } }] },
        {
          type: "tools",
          calls: [
            {
              name: "replace_in_file",
              args: { path: "calc.py", old_text: "return a - b", new_text: "return a + b" },
            },
          ],
        },
        { type: "tools", calls: [{ name: "finish", args: { summary: "fixed add" } }] },
      ],
    });
    server = run.server;
    expect(run.result.status).toBe("fixed");
    const req = run.server.requests[0]!;
    expect(req.path).toBe("/v1/messages");
    expect(req.headers["x-api-key"]).toBe("anthropic-key-xyz");
    expect(req.headers["anthropic-version"]).toBeTruthy();
    expect(req.body.model).toBe("claude-3-5-haiku-20241022");
    expect(req.body.system).toBeDefined();
    // the tool result went back as an Anthropic tool_result block
    expect(requestText(run.server.requests[1]!)).toContain('"type":"tool_result"');
    expect(requestText(run.server.requests[1]!)).toContain("1| def add(a, b):");
    // the SDK's warning about this model went to the trajectory, not to stdout/stderr
    expect(
      run.events(1).some((e) => e.type === "response" && /maxOutputTokens/.test(e.warnings?.join("") ?? "")),
    ).toBe(true);
    // priced by the family price of the dated name: 3 × (100 in, 20 out) at $0.8/$4 per M
    expect(run.result.costUsd).toBeCloseTo((300 * 0.8 + 60 * 4) / 1e6, 12);
  });

  it("an unreachable server is a network error with a hint, after the retries", async () => {
    server = await startLlmServer([]);
    const origin = server.origin;
    await server.close();
    server = undefined;
    const client = createLlmClient(testSettings("ollama", `${origin}/v1`, { maxRetries: 1 }), { env: {} });
    const err = await client
      .step({ system: "s", messages: [{ role: "user", content: "hi" }], tools: {} })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).kind).toBe("network");
    expect((err as LlmError).message).toContain("after 1 retries");
    expect((err as LlmError).hint).toContain("ollama serve");
  });
});

describe("options: config llm section and CLI flags", () => {
  const config = parseConfig(
    [
      "source:",
      "  sacred_repo: /tmp/x",
      "llm:",
      "  provider: azure",
      "  model: gpt-4o",
      "  base_url: https://contoso.openai.azure.com",
      "  max_retries: 5",
      "  max_cost_usd: 2.5",
      "  azure:",
      "    deployment: prod",
      "    api_version: 2024-10-21",
      "  prices:",
      "    gpt-4o: { input: 1, output: 2 }",
      "",
    ].join("\n"),
    "config.yaml",
  );

  it("config values become settings and limits", () => {
    const o = llmOptionsFromFlags({}, config);
    expect(o.settings).toMatchObject({
      provider: "azure",
      model: "gpt-4o",
      maxRetries: 5,
      azure: { deployment: "prod", apiVersion: "2024-10-21" },
      requestTimeoutMs: 120_000,
    });
    expect(o.limits).toEqual({
      maxAttempts: 3,
      maxSteps: 30,
      attemptTimeoutMs: 600_000,
      maxAttemptTokens: 300_000,
      maxTokens: undefined,
      maxCostUsd: 2.5,
    });
    expect(priceFor("gpt-4o", o.settings.prices)).toEqual({ input: 1, output: 2 });
  });

  it("flags override config; unset flags keep it", () => {
    const o = llmOptionsFromFlags(
      {
        llmProvider: "ollama",
        llmModel: "llama3.1",
        maxAttempts: "5",
        llmBaseUrl: "http://localhost:11434/v1",
      },
      config,
    );
    expect(o.settings).toMatchObject({
      provider: "ollama",
      model: "llama3.1",
      baseUrl: "http://localhost:11434/v1",
    });
    expect(o.limits.maxAttempts).toBe(5);
    expect(o.limits.maxCostUsd).toBe(2.5);
  });

  it("with no provider anywhere it is inferred: default model gpt-4o-mini on openai, claude on anthropic, :11434 is ollama", () => {
    const bare = parseConfig("source:\n  sacred_repo: /tmp/x\n", "c.yaml");
    expect(llmOptionsFromFlags({}, bare).settings).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
    });
    expect(llmOptionsFromFlags({ llmModel: "claude-sonnet-4-5" }, bare).settings.provider).toBe("anthropic");
    expect(llmOptionsFromFlags({ llmBaseUrl: "http://127.0.0.1:11434/v1" }, bare).settings.provider).toBe(
      "ollama",
    );
    expect(llmOptionsFromFlags({ llmBaseUrl: "http://127.0.0.1:8000/v1" }, bare).settings.provider).toBe(
      "openai-compatible",
    );
  });

  it("bad flags are usage errors (exit 2) that say what to do", () => {
    const bad = (flags: Parameters<typeof llmOptionsFromFlags>[0], msg: RegExp) => {
      try {
        llmOptionsFromFlags(flags, config);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).exitCode).toBe(ExitCode.usage);
        expect((e as UsageError).message + (e as UsageError).hint).toMatch(msg);
      }
    };
    bad({ llmProvider: "gemini" }, /unknown LLM provider "gemini".*openai, azure, anthropic, ollama/);
    bad({ llmBaseUrl: "localhost:11434" }, /not an http\(s\) URL/);
    bad({ maxAttempts: "three" }, /whole number/);
    bad({ maxAttempts: -1 }, /whole number/);
  });

  it("a config key typo in llm: is a config error with its line", () => {
    expect(() => parseConfig("source:\n  sacred_repo: /x\nllm:\n  max_retry: 2\n", "c.yaml")).toThrowError(
      /c\.yaml:4:\d+: llm\.max_retry: unknown key/,
    );
  });
});

describe("pricing", () => {
  it("dated and -latest names cost their family; overrides win; unknown models are unpriced", () => {
    expect(priceFor("gpt-4o-mini-2024-07-18")).toEqual(priceFor("gpt-4o-mini"));
    expect(priceFor("claude-3-5-sonnet-latest")).toEqual({ input: 3, output: 15 });
    expect(priceFor("gpt-4o-mini", { "gpt-4o-mini": { input: 9, output: 9 } })).toEqual({
      input: 9,
      output: 9,
    });
    expect(priceFor("llama3.1:8b")).toBeUndefined();
    expect(
      costOf({ inputTokens: 1_000_000, outputTokens: 1_000_000 }, { input: 0.15, output: 0.6 }),
    ).toBeCloseTo(0.75);
    expect(costOf({ inputTokens: 5, outputTokens: 5 }, undefined)).toBeUndefined();
  });
});

describe("providers as specs", () => {
  it("docs/llm.md's providers table is the one the specs render; config and CLI offer exactly the specs' names", async () => {
    const { providersTable, LLM_PROVIDERS, PROVIDER_SPECS, inferProvider } = await import(
      "../src/llm/providers/index.js"
    );
    const docs = readFileSync(path.join(import.meta.dirname, "..", "docs", "llm.md"), "utf8");
    expect(docs).toContain(providersTable());
    const { LlmSection } = await import("../src/config/schema.js");
    expect(LlmSection.shape.provider.unwrap().options).toEqual(LLM_PROVIDERS);
    expect(LLM_PROVIDERS).toEqual(PROVIDER_SPECS.map((s) => s.name));
    expect(inferProvider("qwen", "http://localhost:11434/v1")).toBe("ollama");
    expect(inferProvider("x", "http://localhost:8000/v1")).toBe("openai-compatible");
    expect(inferProvider("claude-sonnet-4", undefined)).toBe("anthropic");
    expect(inferProvider("gpt-4o", undefined)).toBe("openai");
  });
});
