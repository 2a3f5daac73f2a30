/**
 * Runs the real `wct` binary in a subprocess, exactly as a user types it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = `${ROOT}bin/wct.js`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

type WctOptions = { cwd?: string; env?: Record<string, string | undefined>; stdin?: string };

export function runWct(args: string[], options: WctOptions = {}): Promise<CliResult> {
  return startWct(args, options).result;
}

/** Starts `wct` and returns the process (to send it signals) and what it will have done. */
export function startWct(
  args: string[],
  options: WctOptions = {},
): { child: ChildProcess; result: Promise<CliResult> } {
  let child!: ChildProcess;
  const result = new Promise<CliResult>((resolve, reject) => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: "1",
      ...options.env,
    };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const spawned = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: env as NodeJS.ProcessEnv,
    });
    child = spawned;
    let stdout = "";
    let stderr = "";
    spawned.stdout.on("data", (d) => {
      stdout += d;
    });
    spawned.stderr.on("data", (d) => {
      stderr += d;
    });
    spawned.on("error", reject);
    spawned.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    spawned.stdin.end(options.stdin ?? "");
  });
  return { child, result };
}

/** No line of a Node stack trace (`    at fn (file:1:2)`). */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}
