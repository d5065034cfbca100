// process-user-data in-process: user-data from the cidata file or from AWS/Azure metadata services
// (local HTTP servers on 127.0.0.1 standing in for 169.254.169.254), retries, and initdata.
import assert from "node:assert/strict";
import http from "node:http";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  DUMMY_INITDATA_TOML,
  ProvisionError,
  detectCloud,
  provisionFiles,
} from "../../src/forwarder/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { decodeInitdata, encodeInitdata, initdataDigest } from "../../src/userdata/initdata.ts";
import { captureLogger } from "../helpers/capture-logger.ts";

const USER_DATA = `#cloud-config

write_files:
  - path: /run/peerpod/apf.json
    content: |
      {
          "pod-network": null,
          "pod-namespace": "default",
          "pod-name": "nginx"
      }
  - path: /run/peerpod/auth.json
    content: |
      {"auths":{}}
  - path: /etc/shadow
    content: |
      root::0:0:99999:7:::
`;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

async function serve(
  handler: Handler,
): Promise<{ url: string; close(): Promise<void>; closeAll(): void; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url}`);
      handler(req, res, body);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
    closeAll: () => server.closeAllConnections(),
  };
}

describe("provisionFiles", () => {
  let dir: string;
  let root: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "provision-"));
    root = path.join(dir, "root");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  /** No cidata: user-data from `cloud`'s metadata service at `url`, retried every 100 ms. */
  const fromImds = (cloud: "aws" | "azure", url: string, fetchTimeoutMs: number) =>
    provisionFiles({
      cidataDir: dir,
      imds: { cloud, baseUrl: url },
      fetchTimeoutMs,
      retryIntervalMs: 100,
      rootDir: root,
      logger: silentLogger(),
    });

  test("cidata: writes the allowed files under rootDir, skips the others with a log line", async () => {
    await mkdir(path.join(dir, "cidata"));
    await writeFile(path.join(dir, "cidata/user-data"), USER_DATA);
    const log = captureLogger();
    const result = await provisionFiles({
      cidataDir: path.join(dir, "cidata"),
      imds: false,
      rootDir: root,
      logger: log.logger,
    });
    assert.equal(result.source, "cidata");
    assert.deepEqual(result.written, ["/run/peerpod/apf.json", "/run/peerpod/auth.json"]);
    assert.deepEqual(result.skipped, ["/etc/shadow"]);
    assert.equal(log.find("File: /etc/shadow is not allowed in WriteFiles.").length, 1);
    await assert.rejects(stat(path.join(root, "etc/shadow")), { code: "ENOENT" });
    assert.equal(await readFile(path.join(root, "run/peerpod/auth.json"), "utf8"), '{"auths":{}}\n');
    // No file content reaches the logs.
    assert.doesNotMatch(JSON.stringify(log.lines), /auths|root::/);
  });

  test("every file written is 0600 and /run/peerpod 0700 (upstream: 0644, 0755), an existing open directory too", async () => {
    await mkdir(path.join(dir, "cidata"));
    const initdata = encodeInitdata('algorithm = "sha256"\nversion = "0.1.0"\n\n[data]\n"aa.toml" = "x"\n');
    await writeFile(
      path.join(dir, "cidata/user-data"),
      `${USER_DATA}  - path: /run/peerpod/initdata\n    content: ${initdata}\n  - path: /run/peerpod/scratch-space.marker\n`,
    );
    await mkdir(path.join(root, "run/peerpod"), { recursive: true, mode: 0o755 });
    await chmod(path.join(root, "run/peerpod"), 0o755);
    await provisionFiles({
      cidataDir: path.join(dir, "cidata"),
      imds: false,
      rootDir: root,
      logger: silentLogger(),
    });
    const peerpod = path.join(root, "run/peerpod");
    const names = (await readdir(peerpod)).sort();
    assert.deepEqual(names, [
      "aa.toml",
      "apf.json",
      "auth.json",
      "initdata",
      "initdata.digest",
      "scratch-space.marker",
    ]);
    for (const name of names) assert.equal((await stat(path.join(peerpod, name))).mode & 0o777, 0o600, name);
    assert.equal((await stat(peerpod)).mode & 0o777, 0o700);
  });

  test("AWS: IMDSv2 token then user-data with the token", async () => {
    const imds = await serve((req, res) => {
      if (req.method === "PUT" && req.url === "/latest/api/token") {
        assert.equal(req.headers["x-aws-ec2-metadata-token-ttl-seconds"], "60");
        res.end("tok-123");
      } else if (req.url === "/latest/user-data" && req.headers["x-aws-ec2-metadata-token"] === "tok-123") {
        res.end(USER_DATA);
      } else {
        res.statusCode = 401;
        res.end();
      }
    });
    try {
      const result = await provisionFiles({
        cidataDir: path.join(dir, "none"),
        imds: { cloud: "aws", baseUrl: imds.url },
        rootDir: root,
        logger: silentLogger(),
      });
      assert.equal(result.source, "aws");
      assert.deepEqual(imds.requests, ["PUT /latest/api/token", "GET /latest/user-data"]);
      assert.match(await readFile(path.join(root, "run/peerpod/apf.json"), "utf8"), /"pod-name": "nginx"/);
    } finally {
      await imds.close();
    }
  });

  test("AWS: falls back to IMDSv1 when the token call fails", async () => {
    const imds = await serve((req, res) => {
      if (req.method === "PUT") res.statusCode = 403;
      else if (req.url === "/latest/user-data" && req.headers["x-aws-ec2-metadata-token"] === undefined)
        res.write(USER_DATA);
      else res.statusCode = 400;
      res.end();
    });
    try {
      const result = await provisionFiles({
        cidataDir: dir,
        imds: { cloud: "aws", baseUrl: imds.url },
        rootDir: root,
        logger: silentLogger(),
      });
      assert.equal(result.written.length, 2);
    } finally {
      await imds.close();
    }
  });

  test("Azure: Metadata header, base64 userData; retried until it appears", async () => {
    let calls = 0;
    const imds = await serve((req, res) => {
      assert.equal(req.url, "/metadata/instance/compute/userData?api-version=2021-01-01&format=text");
      assert.equal(req.headers.metadata, "true");
      calls++;
      if (calls < 3) res.statusCode = 404;
      else res.write(Buffer.from(USER_DATA).toString("base64"));
      res.end();
    });
    try {
      const result = await provisionFiles({
        cidataDir: dir,
        imds: { cloud: "azure", baseUrl: imds.url },
        retryIntervalMs: 50,
        rootDir: root,
        logger: silentLogger(),
      });
      assert.equal(result.source, "azure");
      assert.equal(calls, 3);
      assert.equal((await stat(path.join(root, "run/peerpod/apf.json"))).mode & 0o777, 0o600);
    } finally {
      await imds.close();
    }
  });

  test("user-data upstream would reject (unknown key) is retried, then fails naming the source and error", async () => {
    const imds = await serve((_req, res) => res.end("#cloud-config\nruncmd:\n  - reboot\n"));
    try {
      await assert.rejects(fromImds("aws", imds.url, 3000), (err: Error) => {
        assert.ok(err instanceof ProvisionError);
        assert.match(
          err.message,
          /^failed to retrieve cloud config from aws within 3s: yaml: unmarshal errors:\n {2}line 2: field runcmd not found/,
        );
        return true;
      });
      assert.ok(imds.requests.filter((r) => r.startsWith("GET")).length >= 2);
    } finally {
      await imds.close();
    }
  });

  test("a metadata service that never answers: provisioning gives up at the fetch timeout", async () => {
    const imds = await serve(() => undefined);
    try {
      const t0 = Date.now();
      await assert.rejects(
        fromImds("azure", imds.url, 1500),
        (err: Error) => err instanceof ProvisionError && /from azure within 1.5s/.test(err.message),
      );
      assert.ok(Date.now() - t0 < 10_000, "the hung request outlived the fetch timeout");
    } finally {
      imds.closeAll();
      await imds.close();
    }
  });

  test("an answer over 1 MiB is refused, not buffered", async () => {
    const imds = await serve((_req, res) => res.end(Buffer.alloc(2 << 20, "a")));
    try {
      await assert.rejects(
        fromImds("aws", imds.url, 1000),
        (err: Error) => err instanceof ProvisionError && /over 1 MiB/.test(err.message),
      );
    } finally {
      await imds.close();
    }
  });

  test("no source: only initdata, a default one when none was delivered, with its digest", async () => {
    const result = await provisionFiles({
      cidataDir: dir,
      imds: false,
      rootDir: root,
      logger: silentLogger(),
    });
    assert.equal(result.source, "none");
    const written = decodeInitdata(await readFile(path.join(root, "run/peerpod/initdata"), "utf8"));
    assert.equal(written, DUMMY_INITDATA_TOML);
    assert.equal(result.initdataDigest, initdataDigest(DUMMY_INITDATA_TOML, "sha256"));
    assert.equal(
      await readFile(path.join(root, "run/peerpod/initdata.digest"), "utf8"),
      result.initdataDigest,
    );
    assert.equal(await readFile(path.join(root, "run/peerpod/aa.toml"), "utf8"), "");
  });

  test("DMI decides the cloud when none is given", async () => {
    const dmi = path.join(dir, "dmi");
    await mkdir(dmi);
    assert.equal(await detectCloud(dmi), undefined);
    await writeFile(path.join(dmi, "sys_vendor"), "Amazon EC2\n");
    assert.equal(await detectCloud(dmi), "aws");
    await writeFile(path.join(dmi, "sys_vendor"), "Microsoft Corporation\n");
    assert.equal(await detectCloud(dmi), undefined);
    await writeFile(path.join(dmi, "chassis_asset_tag"), "7783-7084-3265-9085-8269-3286-77\n");
    assert.equal(await detectCloud(dmi), "azure");
  });
});
