// `npm run bench`: every benchmark in one run, each beside its baseline, printed as markdown for
// BENCHMARKS.md. Figures are medians/percentiles of repeated runs on this machine.
import { benchDaemonOverhead, benchLocalLifecycle } from "./lifecycle.ts";
import { benchTtrpcUnary } from "./ttrpc.ts";
import { ms } from "./stats.ts";

const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);
const out: string[] = [];
const line = (s = "") => {
  out.push(s);
  console.log(s);
};

line(`# Benchmark run ${new Date().toISOString()} (node ${process.version}, ${process.arch})`);
line();

if (want("ttrpc")) {
  const t = await benchTtrpcUnary(5000);
  line("## ttrpc unary round trip (Go client, 64-byte echo, 5000 sequential calls)");
  line("| server | p50 | p99 |");
  line("|---|---|---|");
  line(`| containerd Go server (baseline) | ${t.goServer.p50Us} µs | ${t.goServer.p99Us} µs |`);
  line(`| ours | ${t.ourServer.p50Us} µs | ${t.ourServer.p99Us} µs |`);
  line(`ratio ours/Go p50: ${(t.ourServer.p50Us / t.goServer.p50Us).toFixed(2)}`);
  line();
}

if (want("lifecycle")) {
  line("## Daemon overhead per lifecycle (CreateVM+StartVM+StopVM, connection per call, instant provider)");
  line("| state dir | concurrency | n | p50 | p99 |");
  line("|---|---|---|---|---|");
  for (const on of ["tmpfs", "disk"] as const) {
    for (const c of [1, 50]) {
      const s = await benchDaemonOverhead(c === 1 ? 300 : 500, c, on);
      line(`| ${on} | ${c} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} |`);
    }
  }
  line();
}

if (want("local") && process.getuid?.() === 0) {
  line(
    "## Whole local lifecycle through `caa serve` (VM namespace, forwarder boot, mTLS agent connect, teardown; no boot delay)",
  );
  line("| concurrency | n | p50 | p99 |");
  line("|---|---|---|---|");
  for (const [c, n] of [
    [1, 10],
    [50, 50],
  ] as const) {
    const s = await benchLocalLifecycle(n, c);
    line(`| ${c} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} |`);
  }
  line();
}

if (process.env.BENCH_OUT) {
  const { writeFile } = await import("node:fs/promises");
  await writeFile(process.env.BENCH_OUT, out.join("\n") + "\n");
}
