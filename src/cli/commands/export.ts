/**
 * @module `wct export RUN_ID`: export a past run from the stores, without re-executing anything.
 */
import { InputError } from "../../errors.js";
import { buildJsonExport, EXPORTERS } from "../../export/json.js";
import type { ArtifactStore } from "../../stores/artifact/store.js";
import type { ExecutionStore } from "../../stores/execution/store.js";
import { readRecordedPlan } from "../../stores/recorded.js";
import {
  type CliIo,
  checkOutputTarget,
  openStores,
  type StoreFlags,
  writeOutputFile,
} from "../io.js";

/** Throws unless `format` names an installed exporter. */
export function checkExporter(format: string): void {
  if (!EXPORTERS.some((e) => e.name === format)) {
    throw new InputError(
      `unknown exporter '${format}'; available: ${EXPORTERS.map((e) => e.name).join(", ")}`,
    );
  }
}

/** The export document of a stored run, as text; `warn` hears of a run still executing. */
export async function exportRun(
  runId: string,
  format: string,
  stores: { executions: ExecutionStore; artifacts: ArtifactStore },
  warn: (message: string) => void = () => {},
): Promise<string> {
  checkExporter(format);
  const details = await stores.executions.getRunDetails(runId);
  if (details.status === "running") {
    warn(
      `warning: run ${runId} is still running; the export shows what it has so far, as 'interrupted' (upstream's format has no 'running')\n`,
    );
  }
  const plan = await readRecordedPlan(stores.executions, runId);
  return `${JSON.stringify(await buildJsonExport(details, plan, stores.artifacts), null, 2)}\n`;
}

export async function exportCommand(
  runIdOrPrefix: string,
  options: StoreFlags & { format?: string; output?: string },
  io: CliIo,
): Promise<number> {
  if (options.output) await checkOutputTarget(io, options.output);
  const stores = openStores(options, io);
  try {
    const runId = await stores.executions.resolveRunId(runIdOrPrefix);
    const text = await exportRun(runId, options.format ?? "json", stores, (message) =>
      io.stderr.write(message),
    );
    if (options.output) {
      await writeOutputFile(io, options.output, text);
    } else {
      io.stdout.write(text);
    }
    return 0;
  } finally {
    await stores.executions.close?.();
    await stores.artifacts.close?.();
  }
}
