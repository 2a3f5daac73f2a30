/**
 * @module The built-in connectors and processors, by runbook `type`.
 */
import { filesystemConnector } from "../connectors/filesystem.js";
import { sqliteConnector } from "../connectors/sqlite.js";
import { gdprPersonalDataClassifier } from "../processors/gdpr-classifier.js";
import { personalDataProcessor } from "../processors/personal-data.js";
import type { ComponentRegistry, Connector, Processor } from "./types.js";

const byType = <T extends { type: string }>(components: T[]) =>
  new Map(components.map((c) => [c.type, c]));

let registry: ComponentRegistry | undefined;

/** Every component that ships with wct. */
export function builtinRegistry(): ComponentRegistry {
  registry ??= {
    connectors: byType<Connector>([filesystemConnector, sqliteConnector]),
    processors: byType<Processor>([personalDataProcessor, gdprPersonalDataClassifier]),
  };
  return registry;
}
