import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A scripted model on 127.0.0.1 speaking the real wire protocols: OpenAI chat completions (`…/chat/completions`,
 * used by openai, azure, ollama and openai-compatible) and Anthropic messages (`…/messages`). The client under test
 * is the real AI SDK over real HTTP; the script decides each reply, the server records each request (path, query,
 * headers, JSON body) so tests can check what the brain actually sent.
 */

export interface ScriptedCall {
  name: string;
  /** An object is sent as JSON; a string is sent verbatim (to script malformed arguments). */
  args: unknown;
}

export type ScriptedReply =
  | { type: "tools"; calls: ScriptedCall[]; text?: string; usage?: Usage }
  | { type: "text"; text: string; usage?: Usage }
  | { type: "error"; status: number; message: string; headers?: Record<string, string> }
  /** Answer only after `ms` (for timeouts); the reply that follows is `reply`. */
  | { type: "slow"; ms: number; reply: ScriptedReply };

export interface Usage {
  input: number;
  output: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: the wire JSON as received
  body: any;
  protocol: "openai" | "anthropic";
}

export type Script = ScriptedReply[] | ((req: RecordedRequest, index: number) => ScriptedReply);

export interface ScriptedLlmServer {
  /** `http://127.0.0.1:<port>` (no trailing slash, no path). */
  origin: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const DEFAULT_USAGE: Usage = { input: 100, output: 20 };

let ids = 0;

function openAiBody(reply: Exclude<ScriptedReply, { type: "error" | "slow" }>, model: string): unknown {
  const usage = reply.usage ?? DEFAULT_USAGE;
  const toolCalls =
    reply.type === "tools"
      ? reply.calls.map((c) => ({
          id: `call_${++ids}`,
          type: "function",
          function: { name: c.name, arguments: typeof c.args === "string" ? c.args : JSON.stringify(c.args) },
        }))
      : undefined;
  return {
    id: `chatcmpl-${++ids}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: reply.text ?? null,
          ...(toolCalls ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: toolCalls ? "tool_calls" : "stop",
      },
    ],
    usage: {
      prompt_tokens: usage.input,
      completion_tokens: usage.output,
      total_tokens: usage.input + usage.output,
    },
  };
}

function anthropicBody(reply: Exclude<ScriptedReply, { type: "error" | "slow" }>, model: string): unknown {
  const usage = reply.usage ?? DEFAULT_USAGE;
  const content: unknown[] = reply.text ? [{ type: "text", text: reply.text }] : [];
  if (reply.type === "tools") {
    for (const c of reply.calls)
      content.push({ type: "tool_use", id: `toolu_${++ids}`, name: c.name, input: c.args });
  }
  return {
    id: `msg_${++ids}`,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: reply.type === "tools" ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: usage.input, output_tokens: usage.output },
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startLlmServer(script: Script): Promise<ScriptedLlmServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const protocol = url.pathname.endsWith("/messages") ? "anthropic" : "openai";
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        protocol,
      };
      const index = requests.length;
      requests.push(recorded);
      const known = url.pathname.endsWith("/chat/completions") || url.pathname.endsWith("/messages");
      if (req.method !== "POST" || !known) {
        send(res, 404, { error: { message: `scripted server: no route ${req.method} ${url.pathname}` } });
        return;
      }
      // biome-ignore lint/suspicious/noExplicitAny: wire JSON
      if ((body as any)?.stream) {
        send(res, 400, { error: { message: "scripted server: streaming was not expected" } });
        return;
      }
      let reply: ScriptedReply | undefined =
        typeof script === "function" ? script(recorded, index) : script[index];
      while (reply?.type === "slow") {
        await new Promise((r) => setTimeout(r, (reply as { ms: number }).ms));
        // (The request itself is destroyed once read: only a closed response means the client went away.)
        if (res.destroyed) return;
        reply = reply.reply;
      }
      if (!reply) {
        send(res, 400, { error: { message: `scripted server: no reply scripted for request ${index + 1}` } });
        return;
      }
      if (reply.type === "error") {
        const err =
          protocol === "anthropic"
            ? { type: "error", error: { type: "api_error", message: reply.message } }
            : { error: { message: reply.message, type: "api_error", code: null } };
        send(res, reply.status, err, reply.headers);
        return;
      }
      // biome-ignore lint/suspicious/noExplicitAny: wire JSON
      const model = String((body as any)?.model ?? "unknown");
      send(res, 200, protocol === "anthropic" ? anthropicBody(reply, model) : openAiBody(reply, model));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** All text a request carried to the model (system, user, tool results), for "the prompt contains …" checks. */
export function requestText(req: RecordedRequest): string {
  return JSON.stringify(req.body?.messages ?? []) + JSON.stringify(req.body?.system ?? "");
}
