/**
 * Configuration section `data` (placeholder: to be filled in by the data work).
 * @module
 */
import { z } from "zod";

/** Schema of the `data` section; every field has a documented default. */
export const dataConfigSchema = z.strictObject({});

/** The resolved `data` section. */
export type DataConfig = z.output<typeof dataConfigSchema>;
