/**
 * `grefel run-index MANIFEST INDEX`: one task of a Slurm sweep (lib/train/slurm.ts) — trains entry
 * INDEX of a manifest written by `grefel sweep E --slurm DIR`; `--build-cache` builds the feature
 * caches of all entries instead.
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { releaseLocksOnSignal } from "../../lib/lock.ts";
import { buildManifestCaches, runManifestEntry } from "../../lib/train/slurm.ts";

const HELP = `usage: deno task grefel run-index MANIFEST [INDEX] [options]

Trains entry INDEX (default: $SLURM_ARRAY_TASK_ID) of MANIFEST (DIR/manifest.json, written by
\`grefel sweep EXPERIMENT --slurm DIR\`) into its run directory: a finished run is skipped, an
interrupted one resumes from its checkpoint, a run another live process is training is refused
(exit 75). Each attempt is recorded in DIR/tasks/INDEX.jsonl.

options:
  --build-cache   build the feature caches of every entry (or of INDEX only) and train nothing;
                  run it once before the array (cache.sbatch does)
  --backend NAME  webgpu, wasm or cpu (default: the manifest's, then each config's, then automatic)
  -h, --help      this help`;

/** Exit code of a task whose run another process is training (EX_TEMPFAIL). */
export const EXIT_REFUSED = 75;

/** The `run-index` command. */
export const runIndexCommand: Command = {
  name: "run-index",
  summary: "one task of a Slurm sweep: train entry INDEX of a sweep manifest (skips/resumes)",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        "build-cache": { type: "boolean", default: false },
        backend: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [manifestArg, indexArg, ...rest] = positionals;
    if (!manifestArg || rest.length) {
      console.error(`run-index: expected MANIFEST [INDEX]\n\n${HELP}`);
      return 2;
    }
    const manifest = cliPath(manifestArg);
    const raw = indexArg ?? Deno.env.get("SLURM_ARRAY_TASK_ID");
    let index: number | undefined;
    if (raw !== undefined) {
      index = Number(raw);
      if (!Number.isInteger(index) || index < 0) {
        console.error(`run-index: INDEX ${raw}: expected an integer ≥ 0`);
        return 2;
      }
    }
    const print = (l: string) => console.error(l);
    if (values["build-cache"]) {
      const n = await buildManifestCaches(manifest, { index, backend: values.backend, print });
      console.log(`feature caches ready (${n} distinct data preparation${n === 1 ? "" : "s"})`);
      return 0;
    }
    if (index === undefined) {
      console.error("run-index: INDEX missing (and SLURM_ARRAY_TASK_ID is not set)");
      return 2;
    }
    // Slurm sends SIGTERM when it cancels or pre-empts a task: free the run's lock on the way out.
    const removeListeners = releaseLocksOnSignal();
    try {
      const r = await runManifestEntry(manifest, index, { backend: values.backend, print });
      console.log(`${r.outcome} ${r.run.dir}`);
      return r.outcome === "refused" ? EXIT_REFUSED : 0;
    } finally {
      removeListeners();
    }
  },
};
