/**
 * `deno task grefel progress [--readme] [--results DIR] [--profile NAME]`: how far the
 * reliability-balancing study's required grid and the converged ablations have come, per paper
 * table (lib/notebook/ablation.ts `ABLATIONS`): cells complete /
 * total, runs done / required, and each claim's current verdict with its paired difference. With
 * `--readme`, the same Markdown replaces the section of README.md between
 * {@linkcode PROGRESS_START} and {@linkcode PROGRESS_END}. Reads run folders only; trains nothing.
 *
 * @module
 */
import { join } from "node:path";
import { cliPath, type Command, parseCommandArgs, UsageError } from "../command.ts";
import { type AblationResult, ABLATIONS, readAblation } from "../../lib/notebook/ablation.ts";
import { type Profile, PROFILES, REPO_ROOT, resultsDirFor } from "../../lib/notebook/profile.ts";
import {
  RB_STUDY_GRID,
  readStudy,
  type StudyProgress,
  studyProgress,
} from "../../lib/notebook/rb_study.ts";

const HELP = `usage: deno task grefel progress [--readme] [--results DIR] [--profile NAME]

Prints, per paper table, the converged ablation's progress (cells with every required seed
finished, runs finished of those required) and the current verdict of each claim: holds /
is contradicted / not resolved (paired 95% interval), or pending while a cell misses seeds.

  --readme          also rewrite README.md's progress section (between its marker comments)
  --readme-file F   the README to rewrite (default <repo>/README.md)
  --results DIR     results directory (default $GREFEL_RESULTS or <repo>/results)
  --profile NAME    profile the runs were trained under (default quick)
  -h, --help        this text`;

/** The comment that opens README.md's progress section. */
export const PROGRESS_START = "<!-- ablation-progress:start -->";
/** The comment that closes README.md's progress section. */
export const PROGRESS_END = "<!-- ablation-progress:end -->";

/**
 * The progress of `results` as Markdown: a table of tables (with the reliability-balancing study's
 * required grid first when `study` is given), then the cells the study still misses, then the
 * claims per table.
 */
export function progressMarkdown(
  results: readonly AblationResult[],
  profile: Profile,
  study?: StudyProgress,
): string {
  const lines = [
    `Converged ablations (profile \`${profile}\`; \`deno task grefel progress --readme\` rewrites this section):`,
    "",
    "| table | experiment | cells complete | runs done |",
    "|---|---|---|---|",
    ...(study
      ? [
        `| RB study, required grid (training variant × head dropout {0, 0.5}) | \`rb-dynamics\` | ` +
        `${study.cellsDone} / ${study.cellsTotal} | ${study.runsDone} / ${study.runsRequired} |`,
      ]
      : []),
    ...results.map((r) =>
      `| ${r.table.table} | \`${r.table.experiment}\` | ${r.cellsDone} / ${r.cellsTotal} | ` +
      `${r.runsDone} / ${r.runsRequired} |`
    ),
    "",
    ...(study && study.missing.length
      ? [
        `RB study cells missing seeds (finished / ${RB_STUDY_GRID.seeds}; ${study.extraRuns} ` +
        `finished runs of its other cells): ` +
        study.missing.map((m) => `\`${m.variant}\` ${m.seeds}`).join(", ") + ".",
        "",
      ]
      : []),
    "Claims (paired difference A − B, 95% interval, over the seeds both cells have):",
    "",
  ];
  for (const r of results) {
    for (const c of r.claims) lines.push(`- ${r.table.table}: ${c.line}`);
  }
  return lines.join("\n");
}

/**
 * `text` with the section between {@linkcode PROGRESS_START} and {@linkcode PROGRESS_END} replaced
 * by `section`.
 * @throws Error when the markers are missing or out of order.
 */
export function replaceSection(text: string, section: string): string {
  const a = text.indexOf(PROGRESS_START), b = text.indexOf(PROGRESS_END);
  if (a < 0 || b < a) {
    throw new Error(`README has no ${PROGRESS_START} … ${PROGRESS_END} section`);
  }
  return text.slice(0, a + PROGRESS_START.length) + "\n" + section + "\n" + text.slice(b);
}

/** The `progress` command. */
export const progressCommand: Command = {
  name: "progress",
  summary: "converged ablations: cells and runs done per table, claim verdicts (--readme)",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      options: {
        readme: { type: "boolean", default: false },
        "readme-file": { type: "string" },
        results: { type: "string" },
        profile: { type: "string", default: "quick" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const profile = values.profile as Profile;
    if (!PROFILES.includes(profile)) {
      throw new UsageError(`--profile must be one of ${PROFILES.join(", ")}, got "${profile}"`);
    }
    // The runs of the profile asked for, not of the notebooks' current profile.
    const root = values.results ? cliPath(values.results) : resultsDirFor(profile);
    const results: AblationResult[] = [];
    for (const t of ABLATIONS) results.push(await readAblation(t, { profile, root }));
    const study = studyProgress(await readStudy(join(root, "rb-dynamics")));
    const md = progressMarkdown(results, profile, study);
    console.log(md);
    if (values.readme || values["readme-file"]) {
      const path = values["readme-file"]
        ? cliPath(values["readme-file"])
        : join(REPO_ROOT, "README.md");
      await Deno.writeTextFile(path, replaceSection(await Deno.readTextFile(path), md));
      console.log(`\nrewrote the progress section of ${path}`);
    }
    return 0;
  },
};
