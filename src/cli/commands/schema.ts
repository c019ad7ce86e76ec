import { Command } from "@commander-js/extra-typings";
import { configJsonSchema } from "../../config/schema.js";

export function schemaCommand() {
  return new Command("schema")
    .description("print the JSON Schema of config.yaml (for editor autocompletion)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
