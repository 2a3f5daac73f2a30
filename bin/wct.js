#!/usr/bin/env node
// An unexpected error's stack (WCT_DEBUG=1) names the TypeScript sources, not the bundle.
if (process.env.WCT_DEBUG) process.setSourceMapsEnabled(true);
const { main } = await import("../dist/bundle/main.js");

process.exitCode = await main(process.argv.slice(2));
