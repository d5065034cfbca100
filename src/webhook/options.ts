// Settings of `caa webhook`. TARGET_RUNTIMECLASS and POD_VM_EXTENDED_RESOURCE are upstream's
// webhook env names (CAA src/webhook/main.go); the others are ours.
import { ConfigError, int, str, type Option } from "../config/options.ts";
import type { SizingRule } from "./mutate.ts";

function sizingRule(): Option<SizingRule> {
  return {
    flag: "sizing",
    env: "WEBHOOK_SIZING",
    default: "fargate",
    usage:
      "fargate: keep the pod's resources and pick the smallest allowed instance type that holds it; upstream: move the resources into annotations and strip them",
    parse: (t) => {
      if (t !== "fargate" && t !== "upstream")
        throw new ConfigError(`invalid WEBHOOK_SIZING ${JSON.stringify(t)} (fargate or upstream)`);
      return t;
    },
  };
}

export const webhookOptions = {
  runtimeClassName: str(
    "runtime-class",
    "TARGET_RUNTIMECLASS",
    "kata-remote",
    "Runtime class of the pods to mutate",
  ),
  vmResource: str(
    "vm-resource",
    "POD_VM_EXTENDED_RESOURCE",
    "kata.peerpods.io/vm",
    "Extended resource requested once per peer pod (the node capacity the adaptor advertises)",
  ),
  port: int("port", "WEBHOOK_PORT", 9443, "HTTPS port"),
  certDir: str(
    "cert-dir",
    "WEBHOOK_CERT_DIR",
    "/etc/webhook/certs",
    "Directory with tls.crt and tls.key (a kubernetes.io/tls Secret, e.g. from cert-manager); re-read every minute",
  ),
  sizing: sizingRule(),
};
