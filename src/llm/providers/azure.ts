import { createAzure } from "@ai-sdk/azure";
import { LlmError } from "../errors.js";
import { defineProvider } from "./spec.js";

/** An Azure endpoint given as `https://x.openai.azure.com` means its `/openai` API root. */
function azureBaseUrl(url: string): string {
  const u = new URL(url);
  return u.pathname === "/" || u.pathname === "" ? `${url.replace(/\/+$/, "")}/openai` : url;
}

export const azure = defineProvider({
  name: "azure",
  label: "Azure OpenAI",
  keyEnv: "AZURE_API_KEY",
  // Azure's own docs name the variable AZURE_OPENAI_API_KEY.
  keyEnvAliases: ["AZURE_OPENAI_API_KEY"],
  keyRequired: true,
  endpointDoc: "`llm.base_url` (`https://<resource>.openai.azure.com`) or `llm.azure.resource_name`",
  create: ({ model, baseUrl, azure: az = {}, apiKey }) => {
    if (!baseUrl && !az.resourceName) {
      throw new LlmError("config", "the azure provider needs an endpoint or a resource name", {
        hint: "Set llm.base_url (https://<resource>.openai.azure.com) or llm.azure.resource_name in config.yaml.",
      });
    }
    const baseURL = baseUrl ? azureBaseUrl(baseUrl) : undefined;
    const provider = createAzure({
      apiKey,
      baseURL,
      resourceName: baseURL ? undefined : az.resourceName,
      apiVersion: az.apiVersion,
      useDeploymentBasedUrls: az.apiVersion !== undefined && az.apiVersion !== "v1",
    });
    const deployment = az.deployment ?? model;
    return {
      // Chat-completions, as for OpenAI.
      model: provider.chat(deployment),
      endpoint: `${baseURL ?? `https://${az.resourceName}.openai.azure.com/openai`} (deployment ${deployment})`,
    };
  },
  hints: {
    authScope: " and resource",
    modelNotFound: () =>
      "Check llm.azure.deployment (the deployment name, not the model family) and llm.azure.api_version.",
  },
});
