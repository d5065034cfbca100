// grpc.Health/Check through a sandbox's agent socket, as the kata shim does first after StartVM.
import { CheckRequest, HealthCheckResponse } from "../gen/agent/health.ts";
import { TtrpcClient } from "../ttrpc/index.ts";

const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING"];

export async function agentHealth(agentSocketPath: string): Promise<string> {
  const client = await TtrpcClient.connect(agentSocketPath);
  try {
    const payload = await client.call("grpc.Health", "Check", CheckRequest.encode({ service: "" }).finish(), {
      timeoutMs: 30_000,
    });
    const res = HealthCheckResponse.decode(payload);
    return STATUS_NAMES[res.status] ?? `status ${res.status}`;
  } finally {
    client.close();
  }
}
