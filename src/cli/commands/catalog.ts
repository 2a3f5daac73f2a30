/**
 * @module What is installed: `wct connectors`, `wct processors`, `wct exporters`, `wct rulesets`,
 * and the editor schema `wct generate-schema`, and `wct validate-runbook`.
 */
import { resolve } from "node:path";
import { builtinRegistry } from "../../components/registry.js";
import type { Component } from "../../components/types.js";
import { InputError, RunbookError } from "../../errors.js";
import { EXPORTERS } from "../../export/json.js";
import { formatSchemaRef } from "../../message.js";
import { prepareRunbook } from "../../plan/prepare.js";
import { listRulesets } from "../../rulesets/loader.js";
import { runbookJsonSchema } from "../../runbook/json-schema.js";
import {
  type CliIo,
  checkOutputTarget,
  openStores,
  printJson,
  printPlanWarnings,
  type StoreFlags,
  writeOutputFile,
} from "../io.js";
import { oneLine, plural, renderTable } from "../table.js";

function describeComponents(components: Iterable<Component>, json: boolean, io: CliIo): void {
  const list = [...components];
  if (json) {
    printJson(
      io,
      list.map((c) => ({
        type: c.type,
        description: c.description,
        ...(c.kind === "processor"
          ? { inputs: c.inputRequirements.map((r) => r.map(formatSchemaRef)) }
          : {}),
        outputs: c.outputSchemas.map(formatSchemaRef),
        properties: c.properties,
      })),
    );
    return;
  }
  io.stdout.write(
    renderTable(
      ["TYPE", "OUTPUT", "DESCRIPTION"],
      list.map((c) => [c.type, c.outputSchemas.map(formatSchemaRef).join(", "), c.description]),
    ),
  );
}

export function connectorsCommand(options: { json?: boolean }, io: CliIo): number {
  describeComponents(builtinRegistry().connectors.values(), Boolean(options.json), io);
  return 0;
}

export function processorsCommand(options: { json?: boolean }, io: CliIo): number {
  describeComponents(builtinRegistry().processors.values(), Boolean(options.json), io);
  return 0;
}

export function exportersCommand(options: { json?: boolean }, io: CliIo): number {
  if (options.json) printJson(io, EXPORTERS);
  else
    io.stdout.write(
      renderTable(
        ["NAME", "DESCRIPTION"],
        EXPORTERS.map((e) => [e.name, e.description]),
      ),
    );
  return 0;
}

export async function rulesetsCommand(options: { json?: boolean }, io: CliIo): Promise<number> {
  const rulesets = await listRulesets();
  if (options.json) printJson(io, rulesets);
  else
    io.stdout.write(
      renderTable(
        ["RULESET", "RULES", "DESCRIPTION"],
        rulesets.map((r) => [`local/${r.name}/${r.version}`, String(r.rules), r.description]),
      ),
    );
  return 0;
}

export async function generateSchemaCommand(
  options: { output?: string },
  io: CliIo,
): Promise<number> {
  const registry = builtinRegistry();
  const catalog = {
    connectors: registry.connectors.values(),
    processors: registry.processors.values(),
  };
  // `-o ""` (an unset variable in a script) names no file: refused, as `run` and `export` do.
  if (options.output === "") throw new InputError("-o is empty: name the file to write");
  const text = `${JSON.stringify(runbookJsonSchema(catalog), null, 2)}\n`;
  if (options.output === undefined) {
    io.stdout.write(text);
    return 0;
  }
  await checkOutputTarget(io, options.output);
  await writeOutputFile(io, options.output, text);
  return 0;
}

export async function validateRunbookCommand(
  runbookPath: string,
  options: StoreFlags & { json?: boolean },
  io: CliIo,
): Promise<number> {
  const stores = openStores(options, io);
  try {
    let prepared: Awaited<ReturnType<typeof prepareRunbook>>;
    const file = resolve(io.cwd, runbookPath);
    try {
      prepared = await prepareRunbook(file, builtinRegistry(), stores.executions, io.env);
    } catch (error) {
      // With --json the problems are data on stdout too (for editors and CI); exit 2 either way.
      // A runbook that cannot be read at all (missing, a folder) is one problem of the file.
      if (!options.json || !(error instanceof InputError)) throw error;
      const issues =
        error instanceof RunbookError
          ? error.issues
          : [{ path: "", message: error.message, position: { file } }];
      printJson(io, {
        valid: false,
        problems: issues.map((issue) => ({
          file: issue.position?.file ?? null,
          line: issue.position?.line ?? null,
          column: issue.position?.column ?? null,
          path: issue.path,
          message: issue.message,
        })),
      });
      return 2;
    }
    const { plan } = prepared;
    printPlanWarnings(io, prepared);
    const artifacts = [...plan.artifacts.values()].map((a) => ({
      id: a.id,
      produces: formatSchemaRef(a.outputSchema),
      inputs: a.inputs,
      component:
        a.definition.source?.type ??
        a.definition.process?.type ??
        (a.reuseFromRun ? "reuse" : "pass-through"),
      output: a.definition.output,
    }));
    if (options.json) {
      printJson(io, { valid: true, name: plan.runbook.name, artifacts });
      return 0;
    }
    const outputs = artifacts.some((a) => a.output) ? " (* marks the outputs)" : "";
    io.stdout.write(
      `${oneLine(runbookPath)}: valid — '${oneLine(plan.runbook.name)}', ${plural(artifacts.length, "artifact")}${outputs}\n`,
    );
    io.stdout.write(
      renderTable(
        ["ARTIFACT", "COMPONENT", "PRODUCES", "INPUTS"],
        artifacts.map((a) => [
          `${a.id}${a.output ? " *" : ""}`,
          a.component,
          a.produces,
          a.inputs.join(", "),
        ]),
      ),
    );
    return 0;
  } finally {
    await stores.executions.close?.();
    await stores.artifacts.close?.();
  }
}
