// npm run fuzz [-- --target <name>[,<name>…]] [--time <seconds per target>] [--seed <n>]
//              [--iteration <i>]   (replay one input of a seed)
// Runs each target for its time, prints the seed first so any failure can be replayed, and exits 1
// on a finding after printing it (what, the input, the replay command).
import { parseArgs } from "node:util";
import { formatFinding, fuzz } from "./driver.ts";
import { TARGETS } from "./targets.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    time: { type: "string", default: "30" },
    seed: { type: "string" },
    iteration: { type: "string" },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const names = values.target?.split(",") ?? TARGETS.map((t) => t.name);
const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
if (unknown.length > 0) {
  console.error(
    `fuzz: unknown target ${unknown.join(", ")} (targets: ${TARGETS.map((t) => t.name).join(", ")})`,
  );
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, ${values.time} s per target: ${names.join(", ")}`);
let failed = false;
for (const target of TARGETS.filter((t) => names.includes(t.name))) {
  const report = await fuzz(target, {
    seed,
    seconds: Number(values.time),
    iteration: values.iteration !== undefined ? Number(values.iteration) : undefined,
  });
  console.log(formatFinding(report));
  if (report.finding) failed = true;
}
process.exit(failed ? 1 : 0);
