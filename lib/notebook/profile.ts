/**
 * Where a notebook is and how big it runs: the profile (`GREFEL_PROFILE`) and the results paths.
 *
 * A notebook's kernel runs in `notebooks/` (JupyterLab starts kernels in the notebook's folder), so
 * every path a notebook uses comes from here, resolved against the repository root, never against
 * the working directory.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * How much a notebook computes: `smoke` (tiny synthetic data, a few epochs: minutes, used by the
 * test suite), `short` (FER+, 128 steps per run: not evidence, too short to separate effects from
 * seed noise), `quick` (FER+ trained to convergence with early stopping: the protocol whose runs
 * are the evidence), `full` (the paper's grid and epochs, for a GPU).
 */
export type Profile = "smoke" | "short" | "quick" | "full";

/** The profiles, smallest first. */
export const PROFILES: readonly Profile[] = ["smoke", "short", "quick", "full"];

/** Reads an environment variable, or undefined without `--allow-env` or when unset. */
function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The notebook profile from `GREFEL_PROFILE`; `smoke` when unset, so that a notebook opened and
 * run without configuration finishes in minutes (set `GREFEL_PROFILE=quick` before starting
 * JupyterLab, or pass `--profile` to scripts/run_notebooks.py, for real results).
 * @throws Error naming the bad value when `GREFEL_PROFILE` is not one of {@linkcode PROFILES}.
 */
export function notebookProfile(): Profile {
  const p = env("GREFEL_PROFILE") ?? "smoke";
  if (!(PROFILES as readonly string[]).includes(p)) {
    throw new Error(`GREFEL_PROFILE must be one of ${PROFILES.join(", ")}, got "${p}"`);
  }
  return p as Profile;
}

/**
 * Values per profile for {@linkcode byProfile}: one per profile, where `short` may be left out and
 * then takes the `quick` value (the two train the same grids; `short` only stops much earlier).
 */
export type ProfileValues<T> = Record<Exclude<Profile, "short">, T> & { short?: T };

/**
 * Picks the value for the current profile: `byProfile({smoke: 2, quick: 20, full: 100})`; in
 * `short` the `short` value when given, else the `quick` one.
 */
export function byProfile<T>(values: ProfileValues<T>, profile = notebookProfile()): T {
  if (profile === "short") return "short" in values ? values.short as T : values.quick;
  return values[profile];
}

/** The repository root (two levels above this file). */
export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The results directory: `GREFEL_RESULTS` if set (the notebook test points it at a temporary
 * folder), else `<repo>/results/tmp/smoke` in the `smoke` profile (git-ignored: its runs are on
 * synthetic data and never mix with real ones) and `<repo>/results` otherwise. A relative
 * `GREFEL_RESULTS` is taken from the repository root, not from the kernel's folder (notebooks/);
 * scripts/run_notebooks.py makes it absolute from where it was started.
 */
export function resultsDir(): string {
  return resultsDirFor(notebookProfile());
}

/**
 * The results directory of runs trained under `profile`: `GREFEL_RESULTS` when set, else
 * `results/tmp/smoke` for `smoke` and `results` for the others (what {@linkcode resultsDir} gives
 * when the notebooks run in that profile).
 */
export function resultsDirFor(profile: Profile): string {
  const set = env("GREFEL_RESULTS");
  if (set) return resolve(REPO_ROOT, set);
  return resolve(REPO_ROOT, profile === "smoke" ? "results/tmp/smoke" : "results");
}

/**
 * Where exported figures go: `<resultsDir>/figures` for the `quick` profile (the committed
 * figures), `<resultsDir>/figures/<profile>` for the others, so that executing a notebook in
 * `short` or `full` never overwrites the committed `quick` figures.
 */
export function figuresDir(): string {
  const p = notebookProfile();
  return p === "quick" ? join(resultsDir(), "figures") : join(resultsDir(), "figures", p);
}
