// Help text for commands whose flags are upstream's `-flag value` registrar (serve, forwarder,
// conformance): one line per flag with its env name and its default as the user would type it
// (`5m0s`, as Go's flag package prints a duration, not milliseconds).
import { defaultText, type OptionSpec } from "./options.ts";

export function flagLines(specs: readonly OptionSpec[], dash: "-" | "--" = "-"): string[] {
  const opts = specs.flatMap((spec) => Object.values(spec));
  const withEnv = opts.some((o) => o.env !== undefined);
  const width = Math.max(...opts.map((o) => o.flag.length)) + dash.length;
  return opts.map((o) => {
    const def = o.secret ? "" : defaultText(o);
    const cols = [(dash + o.flag).padEnd(width)];
    if (withEnv) cols.push((o.env ?? "").padEnd(38));
    cols.push(`${o.usage}${def !== "" ? ` (default ${def})` : ""}`);
    return `  ${cols.join(" ")}`;
  });
}
