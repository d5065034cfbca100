#!/usr/bin/env node
// `caa`: the daemon (`serve`), a shim-playing client (`sandbox`), the pod-VM side (`podvm`,
// `forwarder`, `process-user-data`) and the provider conformance suite. Each subcommand imports its
// code when it runs, so `caa version` or `caa sandbox list` does not load the daemon, the SDKs or
// the forwarder.
import { join } from "node:path";
import { Command } from "@commander-js/extra-typings";
import { runtimeRoot } from "../config/runtime-root.ts";
import { CAA_VERSION as VERSION } from "../config/version.ts";
import { HYPERVISOR_VERSION } from "../hypervisor/version.ts";
import {
  forwarderCommand,
  passThroughCommand,
  podVmCommand,
  processUserDataCommand,
} from "../podvm/commands.ts";
import { TtrpcError } from "../ttrpc/status.ts";
import type { ShimOptions } from "./sandbox.ts";

const shimClient = () => import("./sandbox.ts");

function shimOptions(o: { socket: string; admin: string }): ShimOptions {
  return { socket: o.socket, adminUrl: o.admin === "" ? undefined : o.admin };
}

function collect(value: string, prev: Record<string, string>): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new Error(`--annotation wants key=value, got ${JSON.stringify(value)}`);
  return { ...prev, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function fail(err: unknown): never {
  const msg = err instanceof TtrpcError ? err.describe() : err instanceof Error ? err.message : String(err);
  console.error(`caa: ${msg}`);
  process.exit(1);
}

export function buildCli(): Command {
  const program = new Command("caa").description("peer-pod cloud-api-adaptor").version(VERSION);
  const defaultSocket = process.env.REMOTE_HYPERVISOR_ENDPOINT ?? join(runtimeRoot(), "hypervisor.sock");
  const defaultAdmin = `http://127.0.0.1:${process.env.PROBE_PORT ?? "8000"}`;

  program
    .command("serve")
    .description("run the daemon (flags and env names as upstream's cloud-api-adaptor; -h lists them)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { serve } = await import("./serve.ts");
      await serve(args).catch(fail);
    });

  program
    .command("webhook")
    .description(
      "run the peer-pod admission webhook (HTTPS; env TARGET_RUNTIMECLASS, WEBHOOK_SIZING, WEBHOOK_CERT_DIR, …)",
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { webhook } = await import("./webhook.ts");
      await webhook(args).catch(fail);
    });

  program
    .command("version")
    .description("print the version")
    .action(() =>
      console.log(`caa ${VERSION} (hypervisor API ${HYPERVISOR_VERSION}, node ${process.version})`),
    );

  const sandbox = program.command("sandbox").description("play the kata shim against a running daemon");
  const common = (c: Command) =>
    c
      .option("--socket <path>", "hypervisor socket", defaultSocket)
      .option("--admin <url>", "ops endpoint for stages ('' to skip)", defaultAdmin);

  common(sandbox.command("create").description("CreateVM"))
    .requiredOption("--id <id>", "sandbox id")
    .option("--pod <name>", "pod name", "demo")
    .option("--namespace <ns>", "pod namespace", "default")
    .option("--netns <path>", "pod network namespace", "")
    .option("--annotation <k=v>", "extra annotation (repeatable)", collect, {} as Record<string, string>)
    .action(async (o) => {
      const shim = await shimClient();
      const path = await shim
        .createVM(shimOptions(o), o.id, shim.podAnnotations(o.pod, o.namespace, o.annotation), o.netns)
        .catch(fail);
      console.log(path);
    });
  common(sandbox.command("start").description("StartVM"))
    .requiredOption("--id <id>", "sandbox id")
    .action(async (o) => (await shimClient()).startVM(shimOptions(o), o.id).catch(fail));
  common(sandbox.command("stop").description("StopVM"))
    .requiredOption("--id <id>", "sandbox id")
    .action(async (o) => (await shimClient()).stopVM(shimOptions(o), o.id).catch(fail));
  common(sandbox.command("list").description("sandboxes with stage, instance and timings")).action(
    async (o) => {
      const list = await (await shimClient()).fetchSandboxes(o.admin).catch(fail);
      for (const s of list) {
        const t = Object.entries(s.timings)
          .map(([k, v]) => `${k}=${v}ms`)
          .join(" ");
        console.log(
          `${s.id.slice(0, 12)}  ${s.podNamespace}/${s.podName}  ${s.stage}  ${s.instanceId ?? "-"}  ${s.ips.join(",")}  ${t}`,
        );
      }
    },
  );
  common(sandbox.command("run").description("a whole lifecycle: create, start, health check, stop"))
    .option("--pod <name>", "pod name", "demo")
    .option("--namespace <ns>", "pod namespace", "default")
    .option("--netns <path>", "pod network namespace", "")
    .option("--annotation <k=v>", "extra annotation (repeatable)", collect, {} as Record<string, string>)
    .action(async (o) => {
      const shim = await shimClient();
      const { agentHealth } = await import("./agent-health.ts");
      await shim
        .runLifecycle(shimOptions(o), {
          pod: o.pod,
          namespace: o.namespace,
          netns: o.netns,
          annotations: o.annotation,
          healthCheck: agentHealth,
        })
        .catch(fail);
    });
  program.addCommand(forwarderCommand());
  program.addCommand(processUserDataCommand());

  program.addCommand(
    passThroughCommand(
      "conformance",
      "run the provider conformance suite (-h lists its flags)",
      async () => (await import("../conformance/command.ts")).conformanceMain,
    ),
  );

  program.addCommand(podVmCommand());
  return program;
}

await buildCli().parseAsync(process.argv);
