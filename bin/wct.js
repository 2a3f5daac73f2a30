#!/usr/bin/env node
import { loadCli } from "../dist/launch.js";

process.exitCode = await loadCli().main(process.argv.slice(2));
