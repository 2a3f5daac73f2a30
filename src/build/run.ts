/**
 * @module The build steps after `tsc` (`npm run build` runs `node dist/build/run.js`): precompile
 * the shipped rulesets and schemas, then bundle the CLI.
 */
import { bundleCli } from "./bundle.js";
import { precompile } from "./precompile.js";

const counts = precompile();
bundleCli();
console.log(
  `precompiled ${counts.rulesets} rulesets and ${counts.schemas} schemas; bundled the CLI into dist/bundle/`,
);
