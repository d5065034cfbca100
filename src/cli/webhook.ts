// `caa webhook`: the peer-pod admission webhook. It loads the configured provider (CLOUD_PROVIDER
// and its settings from peer-pods-cm, as the daemon) only to learn the allowed instance types and
// their sizes; it creates nothing.
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { daemonOptions } from "../config/daemon.ts";
import { parseFlags, resolve } from "../config/options.ts";
import { createLogger } from "../log/logger.ts";
import { loadProvider } from "../../providers/registry.ts";
import { webhookOptions } from "../webhook/options.ts";
import { startWebhook } from "../webhook/server.ts";

const CERT_RELOAD_MS = 60_000;

export async function webhook(args: string[]): Promise<void> {
  const src = { env: process.env, flags: parseFlags(args, [webhookOptions]) };
  const cfg = resolve(webhookOptions, src);
  const daemon = resolve(daemonOptions(), { env: process.env, flags: {} });
  const logger = createLogger({ level: daemon.logLevel, format: daemon.logFormat });
  const provider = await loadProvider(
    daemon.cloudProvider,
    { ...process.env },
    {
      logger: logger.child({ component: `provider/${daemon.cloudProvider}` }),
      stateDir: join(tmpdir(), "caa-webhook"),
    },
    { enabled: daemon.externalPlugin, path: daemon.externalPluginPath, hash: daemon.externalPluginHash },
  );
  await provider.start({ verify: false });
  const instanceTypes = provider.instanceTypes();
  logger.info(
    { provider: provider.name, instanceTypes: instanceTypes.map((t) => t.name) },
    "instance types for sizing",
  );
  const pem = async () => ({
    cert: await readFile(join(cfg.certDir, "tls.crt"), "utf8"),
    key: await readFile(join(cfg.certDir, "tls.key"), "utf8"),
  });
  let current = await pem();
  const server = await startWebhook({ ...cfg, ...current, instanceTypes, logger });
  const reload = setInterval(() => {
    pem().then(
      (next) => {
        if (next.cert === current.cert && next.key === current.key) return;
        server.setCertificate(next.cert, next.key);
        current = next;
        logger.info({}, "webhook certificate reloaded");
      },
      (err: unknown) => logger.error({ err }, "could not re-read the webhook certificate"),
    );
  }, CERT_RELOAD_MS);
  const stop = (signal: string) => {
    logger.info({ signal }, `received ${signal}, shutting down`);
    clearInterval(reload);
    void server
      .close()
      .then(() => provider.close())
      .then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
