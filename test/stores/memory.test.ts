import { createMemoryArtifactStore } from "../../src/stores/artifact/memory.js";
import { createMemoryExecutionStore } from "../../src/stores/execution/memory.js";
import { describeArtifactStore } from "./artifact-store-suite.js";
import { describeExecutionStore } from "./execution-store-suite.js";

describeArtifactStore("memory", () => createMemoryArtifactStore());
describeExecutionStore("memory", (options) => createMemoryExecutionStore(options));
