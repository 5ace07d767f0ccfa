/**
 * `grefel train`: trains one run (a preset or config file, or one variant of an experiment) into
 * `<resultsDir>/<experiment>/<run-id>/`; a finished run is skipped, an interrupted one resumed.
 * The flags and the run are lib/train/main.ts's, which sweeps also start as a child process.
 * @module
 */
import type { Command } from "../command.ts";
import { releaseLocksOnSignal } from "../../lib/lock.ts";
import { trainFromArgs } from "../../lib/train/main.ts";

/** The `train` command. */
export const trainCommand: Command = {
  name: "train",
  summary: "train one run (preset, config file or experiment variant); resumes or skips",
  run: async (args: string[]): Promise<number> => {
    // Ended by SIGTERM or Ctrl-C, the run's lock goes with the process.
    const removeListeners = releaseLocksOnSignal();
    try {
      return await trainFromArgs(args);
    } finally {
      removeListeners();
    }
  },
};
