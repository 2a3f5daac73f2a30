/**
 * @module `wct export RUN_ID`: export a past run from the stores, without re-executing anything.
 */
import { constants } from "node:buffer";
import type { Writable } from "node:stream";
import { InputError, StoreError } from "../../errors.js";
import { buildJsonExport, EXPORTERS, jsonExportPieces } from "../../export/json.js";
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

/**
 * The export document of a stored run, in pieces (see `jsonExportPieces`): together they may
 * be longer than a string can be. `warn` hears of a run still executing.
 */
export async function exportRunPieces(
  runId: string,
  format: string,
  stores: { executions: ExecutionStore; artifacts: ArtifactStore },
  warn: (message: string) => void = () => {},
): Promise<string[]> {
  checkExporter(format);
  const details = await stores.executions.getRunDetails(runId);
  if (details.status === "running") {
    warn(
      `warning: run ${runId} is still running; the export shows what it has so far, as 'interrupted' (upstream's format has no 'running')\n`,
    );
  }
  const plan = await readRecordedPlan(stores.executions, runId);
  return jsonExportPieces(await buildJsonExport(details, plan, stores.artifacts));
}

/**
 * The export document of a stored run, as one text; a `StoreError` when it is longer than a
 * string can be (stdout takes it in pieces: `wct export RUN_ID > FILE`).
 */
export async function exportRun(
  runId: string,
  format: string,
  stores: { executions: ExecutionStore; artifacts: ArtifactStore },
  warn: (message: string) => void = () => {},
): Promise<string> {
  const pieces = await exportRunPieces(runId, format, stores, warn);
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  if (length > constants.MAX_STRING_LENGTH) {
    throw new StoreError(
      `the export of run ${runId} (${length} characters) is longer than this tool can write to a file at once (${constants.MAX_STRING_LENGTH}); 'wct export ${runId} > FILE' writes it`,
    );
  }
  return pieces.join("");
}

/** Writes the pieces, waiting while the stream's buffer is full; stops once its reader has gone. */
async function writePieces(stream: Writable, pieces: string[]): Promise<void> {
  for (const piece of pieces) {
    if (stream.destroyed) return;
    if (stream.write(piece)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("close", done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("close", done);
    });
  }
}

export async function exportCommand(
  runIdOrPrefix: string,
  options: StoreFlags & { format?: string; output?: string },
  io: CliIo,
): Promise<number> {
  // `-o ""` (an unset variable in a script) names no file: not a reason to print to stdout.
  if (options.output === "") throw new InputError("-o is empty: name the file to write");
  const stores = openStores(options, io);
  try {
    if (options.output !== undefined) {
      await checkOutputTarget(io, options.output, stores.ownFolders);
    }
    const runId = await stores.executions.resolveRunId(runIdOrPrefix);
    const warn = (message: string) => io.stderr.write(message);
    const format = options.format ?? "json";
    if (options.output !== undefined) {
      await writeOutputFile(io, options.output, await exportRun(runId, format, stores, warn));
    } else {
      await writePieces(io.stdout, await exportRunPieces(runId, format, stores, warn));
    }
    return 0;
  } finally {
    await stores.executions.close?.();
    await stores.artifacts.close?.();
  }
}
