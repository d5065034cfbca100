// `caa serve`: wires config → provider → sandbox manager → hypervisor service, serves it over
// ttrpc (and gRPC), and recovers the sandboxes of a previous run while it serves.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { resolve, type ConfigSource } from "../config/options.ts";
import { daemonOptions, type DaemonConfig } from "../config/daemon.ts";
import { checkPodSubnetCidrs, checkPodsDir, podNetwork } from "./config-checks.ts";
import { clusterLeakCollector } from "./leak-collectors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { loadProvider } from "../../providers/registry.ts";
import type { Provider } from "../../providers/types.ts";
import { SandboxManager } from "../sandbox/manager.ts";
import { SandboxStore } from "../sandbox/store.ts";
import { HypervisorService } from "../hypervisor/service.ts";
import { hypervisorTtrpcServer } from "../hypervisor/ttrpc.ts";
import { serveGrpc, type GrpcEndpoint } from "../hypervisor/grpc.ts";
import { CertAuthority } from "../tls/authority.ts";
import { TLS_OPTIONS, validateTlsConfig } from "../tls/index.ts";
import { agentPort } from "./ports.ts";
import { lifecycleObserver } from "./observer.ts";
import { Metrics } from "../ops/metrics.ts";
import { opsOptions } from "../ops/options.ts";
import { startOpsServer, type OpsServer } from "../ops/server.ts";
import { StartupCheck } from "../ops/startup.ts";
import { k8sOptions } from "../k8s/options.ts";
import { RECORD_QUARANTINED_REASON } from "../k8s/event-reasons.ts";
import { leakOptions } from "../leak/options.ts";
import { LeakCollector } from "../leak/collector.ts";
import { capacityOptions } from "../capacity/options.ts";
import { UnavailableOfferings } from "../capacity/unavailable-offerings.ts";
import { createWarmPool, poolOptions, type WarmPool } from "../pool/index.ts";
import { handoverOptions } from "../handover/options.ts";
import { drainCalls, offerHandover, takeOwnership } from "./ownership.ts";

export type { DaemonConfig };

export interface Daemon {
  config: DaemonConfig;
  logger: Logger;
  provider: Provider;
  manager: SandboxManager;
  metrics: Metrics;
  pool?: WarmPool;
  /** `http://127.0.0.1:port` of the ops endpoint, when it runs. */
  opsAddress?: string;
  close(): Promise<void>;
}

export async function startDaemon(src: ConfigSource, opts: { logger?: Logger } = {}): Promise<Daemon> {
  const config = resolve(daemonOptions(), src);
  const ops = resolve(opsOptions, src);
  const kubeCfg = resolve(k8sOptions, src);
  const leakCfg = resolve(leakOptions, src);
  const poolCfg = resolve(poolOptions, src);
  const capacityCfg = resolve(capacityOptions, src);
  const tls = resolve(TLS_OPTIONS, src);
  const handoverCfg = resolve(handoverOptions, src);
  validateTlsConfig(tls);
  checkPodsDir(config.podsDir);
  checkPodSubnetCidrs(config.podSubnetCidrs);
  const logger = opts.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  // One owner per state directory, settled before anything is written to it.
  const { lock, predecessor } = await takeOwnership(config.stateDir, handoverCfg.handoverTimeoutMs, logger);
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const metrics = new Metrics({ defaultMetrics: true });
  const offerings = new UnavailableOfferings({ ttlMs: capacityCfg.unavailableTtlMs });

  const provider = await loadProvider(
    config.cloudProvider,
    { ...src.env },
    {
      logger: logger.child({ component: `provider/${config.cloudProvider}` }),
      stateDir: join(config.stateDir, `provider-${config.cloudProvider}`),
      onCloudCall: (name, operation, outcome) => metrics.cloudAttempt(name, operation, outcome),
      onCloudQueueWait: (name, family, ms) => metrics.cloudApi.observeWait(name, family, ms),
    },
    { enabled: config.externalPlugin, path: config.externalPluginPath, hash: config.externalPluginHash },
    src.flags,
  );
  // Upstream's order: verify the cloud configuration, advertise node capacity, then serve.
  await provider.start({ verify: config.cloudConfigVerify });
  // The Kubernetes client is loaded only when the integration is on (NODE_NAME set).
  const kube = kubeCfg.nodeName
    ? (await import("../k8s/integration.ts")).kubeIntegration({
        ...kubeCfg,
        cloudProvider: config.cloudProvider,
        logger,
      })
    : undefined;
  await kube?.capacity.advertise();

  // The CA lives in the state directory: a restarted daemon must keep trusting its running VMs.
  const ca = await CertAuthority.loadOrCreate(join(config.stateDir, "tls"));
  const store = await SandboxStore.open(join(config.stateDir, "sandboxes"));
  for (const q of store.quarantined) {
    const message = `sandbox record ${q.path} could not be read (${q.reason}); moved it to ${q.movedTo} and serving the other sandboxes`;
    logger.error({ path: q.path, movedTo: q.movedTo, reason: q.reason }, message);
    await kube?.events.emitOnNode(kubeCfg.nodeName, {
      reason: RECORD_QUARANTINED_REASON,
      message,
      type: "Warning",
    });
  }
  const pool = await createWarmPool({
    settings: poolCfg,
    provider,
    stateDir: config.stateDir,
    cluster: config.clusterName,
    node: kubeCfg.nodeName,
    forwarderPort: config.forwarderPort,
    forwarderHost: config.forwarderHost,
    logger,
    metrics,
    sandboxOwns: (id) => manager.ownsInstance(id),
  });
  const manager = new SandboxManager({
    provider,
    store,
    logger,
    config: {
      podsDir: config.podsDir,
      cluster: config.clusterName,
      node: kubeCfg.nodeName,
      initdata: config.initdata,
      enableScratchSpace: config.enableScratchSpace,
      multiNic: config.externalNetViaPodVm,
    },
    network: podNetwork(config, provider, logger),
    agent: agentPort({
      tls,
      ca,
      forwarderHost: config.forwarderHost,
      forwarderPort: config.forwarderPort,
      proxyTimeoutMs: config.proxyTimeoutMs,
      logger,
      onCall: (method, ms, ok, bytesIn, bytesOut) => metrics.agentCall(method, ms, ok, bytesIn, bytesOut),
    }),
    observer: lifecycleObserver({ metrics, kube, logger }),
    offerings,
    pullSecrets: kube?.pullSecrets,
    podAnnotations: kube?.podAnnotations,
    pool,
  });
  // Each sandbox is recovered under its lock while the socket already serves: a call for a sandbox
  // still being recovered waits for it, every other call is answered at once.
  const recovered = manager.recover();

  const service = new HypervisorService(manager, logger);
  const ttrpc = hypervisorTtrpcServer(service);
  await ttrpc.listen(config.socket);
  let grpc: GrpcEndpoint | undefined;
  if (config.grpcSocket !== "") grpc = await serveGrpc(service, config.grpcSocket);
  logger.info(
    {
      socket: config.socket,
      grpcSocket: config.grpcSocket || undefined,
      provider: config.cloudProvider,
      podsDir: config.podsDir,
      stateDir: config.stateDir,
      // false on tmpfs (src/sandbox/store.ts)
      recordFsyncs: store.fsyncs,
    },
    `serving the remote hypervisor on ${config.socket}`,
  );
  // Our socket is in place: the predecessor forwards the calls it held to it and stops listening.
  await predecessor?.serving(config.socket);

  const startup = new StartupCheck({
    socketPath: config.socket,
    pods: kube?.nodePods,
    runtimeClassName: ops.runtimeClassName,
    handedOver: predecessor !== undefined,
  });
  let opsServer: OpsServer | undefined;
  if (ops.probePort >= 0) {
    opsServer = await startOpsServer({
      port: ops.probePort,
      source: manager,
      metrics,
      startup,
      pool,
      cloudApi: {
        families: () => provider.apiBudget?.() ?? [],
        unavailableOfferings: () => offerings.list(),
        skips: () => offerings.skipped,
      },
      logger,
    });
  }

  await recovered;
  // After recovery: a claim cut off by a restart is judged by whether its sandbox holds the VM.
  await pool?.start();
  const leaks =
    leakCfg.leakIntervalMs > 0
      ? new LeakCollector({
          provider,
          source: manager,
          cluster: config.clusterName,
          node: kubeCfg.nodeName,
          graceMs: leakCfg.leakGracePeriodMs,
          intervalMs: leakCfg.leakIntervalMs,
          dryRun: leakCfg.leakDryRun,
          logger,
          metrics,
          peerPods: kube?.peerPods,
          pool,
        })
      : undefined;
  leaks?.start();
  const clusterLeaks = clusterLeakCollector(leakCfg, config, provider, kube, logger, metrics);
  clusterLeaks?.start();

  const handover = await offerHandover(
    config.stateDir,
    lock,
    {
      gate: service.gate,
      startup,
      logger,
      async quiesce() {
        await leaks?.stop();
        await clusterLeaks?.stop();
        await pool?.close();
        await grpc?.close();
        await manager.close();
        await opsServer?.close();
      },
      stopListening: () => ttrpc.stopListening(),
      retire: () => provider.close(),
    },
    handoverCfg.handoverTimeoutMs,
  );

  let closed = false;
  return {
    config,
    logger,
    provider,
    manager,
    metrics,
    pool,
    opsAddress: opsServer?.address,
    async close() {
      if (closed) return;
      closed = true;
      await handover.close();
      if (handover.retired) {
        // Calls it still forwards to the successor finish first (Kubernetes stops this pod as
        // soon as the new one is started, while they may still run).
        const unfinished = await service.gate.drain(handoverCfg.drainTimeoutMs);
        if (unfinished > 0)
          logger.warn({ unfinished }, `${unfinished} forwarded calls did not finish within DRAIN_TIMEOUT`);
        // Their answers are written by the time I/O runs again; then close the shims' connections
        // (process.exit would drop an answer still in the socket's buffer).
        await new Promise((r) => setImmediate(r));
        await ttrpc.close();
        logger.info({}, "stopped (had handed over)");
        return;
      }
      // Calls in flight finish (bounded) so their records settle; new ones are refused.
      await drainCalls(service.gate, startup, handoverCfg.drainTimeoutMs, logger);
      await leaks?.stop();
      await clusterLeaks?.stop();
      await pool?.close();
      await ttrpc.close();
      await grpc?.close();
      await manager.close();
      await opsServer?.close();
      // Upstream removes the capacity only if this daemon still owns the node (rolling updates).
      const capacity = await kube?.capacity.remove();
      if (capacity === "not-owner")
        logger.info({}, "another daemon owns this node now; left its capacity alone");
      await provider.close();
      await lock.release();
      logger.info({}, "stopped");
    },
  };
}
