// What the AWS benches dial in place of every pod VM's forwarder (cloud "VMs" run nothing): one
// TLS server on FORWARDER_HOST:FORWARDER_PORT that picks each VM's server cert by the name the
// daemon sends (SNI), issued by the daemon's own CA, and pipes the connection to one kata agent
// stand-in. Both run in the bench's process or children of it, so their CPU is not the daemon's.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { CertAuthority } from "../../src/tls/authority.ts";

const repo = path.resolve(import.meta.dirname, "../..");

export interface StandInForwarder {
  close(): Promise<void>;
}

/** The test kata agent (providers/local/kata-agent.ts) on `socket`, once it listens. */
export async function startAgentStandIn(socket: string): Promise<ChildProcess> {
  const agent = spawn(
    process.execPath,
    [path.join(repo, "providers/local/kata-agent.ts"), "--socket", socket],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    agent.stderr.once("data", () => resolve());
    agent.once("exit", () => reject(new Error("bench: agent stand-in exited")));
  });
  return agent;
}

/** Every VM's forwarder on one port: TLS by SNI with the CA in `stateDir`/tls, then a pipe. */
export async function standInForwarder(
  stateDir: string,
  port: number,
  agentSocket: string,
): Promise<StandInForwarder> {
  const ca = await CertAuthority.loadOrCreate(path.join(stateDir, "tls"));
  const contexts = new Map<string, Promise<tls.SecureContext>>();
  const context = (name: string) => {
    let c = contexts.get(name);
    if (!c) {
      c = ca
        .issueServerCert(name)
        .then((s) => tls.createSecureContext({ key: s.keyPem, cert: s.certPem, ca: ca.clientCaPem }));
      contexts.set(name, c);
    }
    return c;
  };
  const server = tls.createServer(
    {
      requestCert: true,
      rejectUnauthorized: true,
      SNICallback: (name, cb) => void context(name).then((c) => cb(null, c), cb),
    },
    (socket) => {
      const agent = net.createConnection(agentSocket);
      socket.pipe(agent).pipe(socket);
      const end = () => (socket.destroy(), agent.destroy());
      socket.once("error", end).once("close", end);
      agent.once("error", end).once("close", end);
    },
  );
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => (sockets.add(s), s.once("close", () => sockets.delete(s))));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
