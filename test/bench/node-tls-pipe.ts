// The agent bench's second baseline, in the forwarder's place: Node's own TLS server piped to the
// agent's socket (`socket.pipe(agent).pipe(socket)`: no ttrpc framing, no flow control or edits of
// its own), started with the same node flags. What a relay process in Node costs at least, so the
// bench can tell what our forwarder adds to it from what Node adds to socat.
// Usage: node [flags] node-tls-pipe.ts <apf.json> <host:port> <agent socket>
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";

const [config, listen, agentSocket] = process.argv.slice(2);
const apf = JSON.parse(readFileSync(config, "utf8")) as Record<string, string>;
const at = listen.lastIndexOf(":");
const server = tls.createServer(
  {
    key: apf["tls-server-key"],
    cert: apf["tls-server-cert"],
    ca: apf["tls-client-ca"],
    requestCert: true,
    rejectUnauthorized: true,
  },
  (socket) => {
    socket.setNoDelay(true);
    const agent = net.createConnection(agentSocket);
    socket.pipe(agent).pipe(socket);
    const end = (): void => void (socket.destroy(), agent.destroy());
    socket.once("error", end).once("close", end);
    agent.once("error", end).once("close", end);
  },
);
server.listen(Number(listen.slice(at + 1)), listen.slice(0, at), () => console.log(`listening on ${listen}`));
process.once("SIGTERM", () => process.exit(0));
