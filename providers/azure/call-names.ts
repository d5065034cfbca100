// Names of ARM calls for metrics: the method and resource type of the request path, e.g.
// "PUT virtualMachines", "GET operations", "LIST networkInterfaces"; and the outcome, "ok" or
// Azure's error code.

/** `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1` → "PUT virtualMachines". */
export function armOperation(method: string, path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  const at = parts.findIndex((p) => p.toLowerCase() === "providers");
  // After "providers/<namespace>": type/name pairs; an odd count ends with a collection.
  const rest = at >= 0 ? parts.slice(at + 2) : parts;
  if (rest.length === 0) return method;
  const collection = rest.length % 2 === 1;
  const type = collection ? rest[rest.length - 1] : rest[rest.length - 2];
  return `${collection && method === "GET" ? "LIST" : method} ${type}`;
}

/** "ok" below 400, else the ARM error code in the body, else "HTTP<status>". */
export function armOutcome(status: number, bodyText: string | undefined | null): string {
  if (status < 400) return "ok";
  try {
    const code = (JSON.parse(bodyText ?? "") as { error?: { code?: unknown } }).error?.code;
    if (typeof code === "string" && code !== "") return code;
  } catch {
    // No JSON body: fall through to the status.
  }
  return `HTTP${status}`;
}
