import { ConfigError } from "../config/options.ts";

/** Go's host:port: "0.0.0.0:15150", "[::]:15150", ":15150" (all interfaces). */
export function parseListenAddress(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(`invalid -listen address ${JSON.stringify(text)} (host:port)`);
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}
