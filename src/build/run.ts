/**
 * @module The build steps after `tsc` (`npm run build` runs `node dist/build/run.js`): precompile
 * the shipped rulesets and schemas, bundle the CLI, then make the bundle's code cache.
 */
import { bundleCli } from "./bundle.js";
import { writeCodeCache } from "./code-cache.js";
import { precompile } from "./precompile.js";

const counts = precompile();
bundleCli();
await writeCodeCache();
console.log(
  `precompiled ${counts.rulesets} rulesets and ${counts.schemas} schemas; bundled the CLI into dist/bundle/ with its code cache`,
);
