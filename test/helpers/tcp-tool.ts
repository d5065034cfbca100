// TCP endpoints run with `ip netns exec <ns> node tcp-tool.ts …` by the pod-network tests and bench.
//   echo-server <host> <port>          echo every byte back; prints "listening" when ready
//   echo-client <host> <port> <msg>    send msg, print what comes back, exit
//   sink <host> <port>                 accept one connection, print {"bytes","ms"} when it closes
//   source <host> <port> <seconds>     send as fast as possible for <seconds>, then close
import net from "node:net";

const [mode, host = "", portText = "0", arg = ""] = process.argv.slice(2);
const port = Number(portText);

function fail(err: Error): never {
  process.stderr.write(`${mode}: ${err.message}\n`);
  process.exit(1);
}

switch (mode) {
  case "echo-server": {
    const server = net.createServer((sock) => sock.pipe(sock));
    server.on("error", fail);
    server.listen(port, host, () => process.stdout.write("listening\n"));
    process.on("SIGTERM", () => server.close(() => process.exit(0)));
    break;
  }
  case "echo-client": {
    const sock = net.connect({ host, port, timeout: 5000 }, () => sock.end(arg));
    const chunks: Buffer[] = [];
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("timeout", () => fail(new Error("timed out")));
    sock.on("error", fail);
    sock.on("close", () => process.stdout.write(Buffer.concat(chunks).toString()));
    break;
  }
  case "sink": {
    const server = net.createServer((sock) => {
      let bytes = 0;
      let first = 0;
      sock.on("data", (d: Buffer) => {
        if (first === 0) first = performance.now();
        bytes += d.length;
      });
      sock.on("error", fail);
      sock.on("close", () => {
        process.stdout.write(`${JSON.stringify({ bytes, ms: performance.now() - first })}\n`);
        server.close();
      });
    });
    server.on("error", fail);
    server.listen(port, host, () => process.stdout.write("listening\n"));
    break;
  }
  case "source": {
    const until = performance.now() + Number(arg) * 1000;
    const buf = Buffer.alloc(128 * 1024, 0x5a);
    const sock = net.connect({ host, port }, () => {
      const pump = (): void => {
        while (performance.now() < until) {
          if (!sock.write(buf)) {
            sock.once("drain", pump);
            return;
          }
        }
        sock.end();
      };
      pump();
    });
    sock.on("error", fail);
    break;
  }
  default:
    fail(new Error(`unknown mode ${String(mode)}`));
}
