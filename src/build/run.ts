/**
 * @module The build steps after `tsc` (`npm run build` runs `node dist/build/run.js`): precompile
 * the shipped rulesets and schemas, bundle the CLI and the worker tasks, then make the CLI bundle's
 * code cache.
 */
import { bundleCli, bundleWorker } from "./bundle.js";
import { writeCodeCache } from "./code-cache.js";
import { precompile } from "./precompile.js";

const counts = precompile();
bundleCli();
bundleWorker();
await writeCodeCache();
console.log(
  `precompiled ${counts.rulesets} rulesets and ${counts.schemas} schemas; bundled the CLI (with its code cache) and the worker tasks into dist/bundle/`,
);
