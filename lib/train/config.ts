/**
 * Configuration section `train` (placeholder: to be filled in by the train work).
 * @module
 */
import { z } from "zod";

/** Schema of the `train` section; every field has a documented default. */
export const trainConfigSchema = z.strictObject({});

/** The resolved `train` section. */
export type TrainConfig = z.output<typeof trainConfigSchema>;
