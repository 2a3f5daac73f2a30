/**
 * @module Where the package's own files are. wct runs from TypeScript sources (vitest, tsx), from
 * tsc's output in `dist/`, and as the CLI bundle in `dist/bundle/`; in the bundle every module's
 * `import.meta.url` names the bundle, so a module that opens a shipped file or starts a worker
 * thread finds it from here, never from its own location.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function packageRootAbove(file: string): string {
  let dir = dirname(file);
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`wct is not installed as a package: no package.json above ${file}`);
    dir = parent;
  }
  return dir;
}

/** The folder holding wct's package.json. */
export const PACKAGE_ROOT = packageRootAbove(fileURLToPath(import.meta.url));

/** Whether this process runs wct from its TypeScript sources rather than from the build. */
export const FROM_SOURCES = import.meta.url.endsWith(".ts");

/** A file or folder of the package, by its path from the package root. */
export function packageFile(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

/**
 * The URL of one of wct's modules, by its path under `src/` without extension, e.g.
 * `execute/worker-entry`: the `.ts` source when running from sources, else tsc's `.js` in `dist/`
 * (what worker threads are asked to load; the worker bundle holds copies of the task modules
 * under these URLs).
 */
export function moduleUrl(modulePath: string): string {
  const file = FROM_SOURCES ? join("src", `${modulePath}.ts`) : join("dist", `${modulePath}.js`);
  return pathToFileURL(packageFile(file)).href;
}
