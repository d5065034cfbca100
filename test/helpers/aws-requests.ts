// Builders shared by the AWS tests: create requests with owner tags, and a logger that records.
import { randomBytes } from "node:crypto";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { CreateRequest, InstanceSpec, OwnerTags, ProviderLogger } from "../../providers/types.ts";

export function sandboxId(): string {
  return randomBytes(32).toString("hex");
}

export function cloudConfig(marker: string): string {
  return `#cloud-config\nwrite_files:\n- path: /run/peerpod/apf.json\n  content: '{"marker":"${marker}"}'\n`;
}

export function createRequest(
  over: {
    sandbox?: string;
    spec?: Partial<InstanceSpec>;
    owner?: Partial<OwnerTags>;
    userData?: string;
  } = {},
): CreateRequest {
  const id = over.sandbox ?? sandboxId();
  return {
    name: `podvm-nginx-${id.slice(0, 8)}`,
    userData: over.userData ?? cloudConfig(id),
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "", ...over.spec },
    owner: {
      cluster: "test-cluster",
      node: "worker-1",
      sandboxId: id,
      podName: "nginx",
      podNamespace: "default",
      ...over.owner,
    },
  };
}

export interface LogLine {
  level: string;
  obj: object;
  msg: string;
}

export function recordingLogger(): ProviderLogger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg });
    };
  return {
    lines,
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    text: () => lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.obj)}`).join("\n"),
  };
}

/** A client customizer that keeps the input of every call of the named commands (as sent, before moto). */
export function commandRecorder(commandName: string): {
  inputs: unknown[];
  customizeClient: (client: EC2Client) => void;
} {
  const inputs: unknown[] = [];
  return {
    inputs,
    customizeClient: (client) =>
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === commandName) inputs.push(args.input);
          return next(args);
        },
        { step: "initialize" },
      ),
  };
}
