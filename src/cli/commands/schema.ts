import { Command } from "@commander-js/extra-typings";
import { configJsonSchema } from "../../config/schema.js";
import type { CommandContext } from "../context.js";

/** The schema itself is the human output (to save as a file); with --json it is the result's `schema`. */
export function schemaCommand(ctx: CommandContext) {
  return new Command("schema")
    .description("print the JSON Schema of config.yaml (for editor autocompletion)")
    .action(() => {
      const schema = configJsonSchema();
      ctx.output().result(JSON.stringify(schema, null, 2), { schema });
    });
}
