/**
 * Configuration section `model` (placeholder: to be filled in by the model work).
 * @module
 */
import { z } from "zod";

/** Schema of the `model` section; every field has a documented default. */
export const modelConfigSchema = z.strictObject({});

/** The resolved `model` section. */
export type ModelConfig = z.output<typeof modelConfigSchema>;
