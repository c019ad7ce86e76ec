import { existsSync } from "node:fs";

/**
 * Secrets must never reach a model, a file, a log, a trajectory or a report. One process-wide redactor, built from
 * the environment the process started with, is applied by the writers of everything under the root (the atomic
 * writer, JSON lines, the journal, trajectories) and by the LLM client to every request; the client adds the key
 * it read (also when `llm.api_key_env` names a variable that does not look secret).
 */
export interface Redactor {
  text(s: string): string;
  /** A deep copy of a JSON-like value with every string redacted (other objects are kept as they are). */
  value<T>(v: T): T;
}

export interface Secret {
  name: string;
  value: string;
}

/** Values shorter than this are not treated as secrets: replacing "1" or "true" everywhere would destroy every text. */
const MIN_SECRET_LENGTH = 6;
/**
 * Placeholder keys that local servers (Ollama, LM Studio, vLLM, llama.cpp) accept in place of a key: not secrets, and
 * redacting "ollama" everywhere would rewrite the provider's name in config, reports and prompts.
 */
const PLACEHOLDER_KEY =
  /^(ollama|lm-?studio|empty|none|null|dummy|placeholder|no-?key|not-?needed|sk-no-key-required)$/i;
const isSecretValue = (v: string) => v.length >= MIN_SECRET_LENGTH && !PLACEHOLDER_KEY.test(v);
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;
/**
 * Variable names that hold secrets: every provider's key variable (OPENAI_API_KEY, AZURE_OPENAI_API_KEY,
 * ANTHROPIC_API_KEY, …) matches KEY; the rest are the usual names of tokens, passwords and sessions.
 */
const SECRET_NAME =
  /KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD$|CREDENTIAL|AUTH(?!OR)|PRIVATE|SESSION|COOKIE|SIGNATURE|_PAT$|_DSN$|CONNECTION_STRING/i;
/** Names that match but hold no secret: desktop session descriptors, socket paths, tool switches. */
const NOT_SECRET_NAME =
  /^(PWD|OLDPWD|XDG_SESSION_\w+|DESKTOP_SESSION|SESSION_MANAGER|DBUS_SESSION_BUS_ADDRESS|SSH_AUTH_SOCK|GPG_AGENT_INFO|XAUTHORITY|TOKENIZERS_PARALLELISM)$/;
/** A URL with a password in it (`postgres://user:pass@host/db`): a secret whatever its variable is called. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

/**
 * The secrets of an environment: the value of every variable whose name looks secret or whose value is a URL with a
 * password. Values shorter than MIN_SECRET_LENGTH and placeholder keys are skipped, and so are values that name an existing path (a
 * credentials file's path is not the secret, and redacting it would rewrite paths in config and reports).
 */
export function secretsInEnvironment(env: NodeJS.ProcessEnv): Secret[] {
  const out: Secret[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !isSecretValue(value)) continue;
    const named = SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
    if (!named && !URL_WITH_PASSWORD.test(value)) continue;
    if (existsSync(value)) continue;
    out.push({ name, value });
  }
  return out;
}

export function createRedactor(secrets: ReadonlyArray<Secret>): Redactor {
  const forms: Secret[] = [];
  for (const s of secrets) {
    if (!isSecretValue(s.value)) continue;
    forms.push(s);
    // Inside JSON text (status.json, JSON lines, request bodies) a value with quotes or backslashes is escaped.
    const escaped = JSON.stringify(s.value).slice(1, -1);
    if (escaped !== s.value) forms.push({ name: s.name, value: escaped });
  }
  // Longest first, so that a secret containing another is replaced whole.
  forms.sort((a, b) => b.value.length - a.value.length);
  const text = (s: string): string => {
    let out = s;
    for (const { name, value } of forms)
      if (out.includes(value)) out = out.split(value).join(`[REDACTED:${name}]`);
    return out.replace(BEARER, "$1[REDACTED]");
  };
  const value = <T>(v: T): T => {
    if (typeof v === "string") return text(v) as T;
    if (Array.isArray(v)) return v.map(value) as T;
    if (v && typeof v === "object") {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return v;
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = value(x);
      return o as T;
    }
    return v;
  };
  return { text, value };
}

let processWide: { secrets: Secret[]; redactor: Redactor } | undefined;

function processState(): { secrets: Secret[]; redactor: Redactor } {
  if (!processWide) {
    const secrets = secretsInEnvironment(process.env);
    processWide = { secrets, redactor: createRedactor(secrets) };
  }
  return processWide;
}

/** The redactor of this process's environment, built on first use (at the start of a command). */
export function processRedactor(): Redactor {
  return processState().redactor;
}

/** The variables holding the process-wide secrets: unjailed commands run without them. */
export function processSecretNames(): string[] {
  return [...new Set(processState().secrets.map((s) => s.name))];
}

/** Secrets read under a name that does not look secret (the LLM key from `llm.api_key_env`) join the redactor. */
export function addProcessSecrets(secrets: ReadonlyArray<Secret>): void {
  const all = [...processState().secrets, ...secrets];
  processWide = { secrets: all, redactor: createRedactor(all) };
}
