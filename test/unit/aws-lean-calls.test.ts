// The lean EC2 path (providers/aws/query) held against the AWS SDK: the same form body for every
// RunInstances the provider builds and for TerminateInstances, the same SigV4 signature as
// @smithy/signature-v4, and, against a real HTTP server on 127.0.0.1, the same error codes and
// failure classes as the SDK for throttling, EC2 errors, proxy 503s, timeouts and resets.
// moto's real answers are read in test/integration/aws-lean-calls.test.ts.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { SignatureV4 } from "@smithy/signature-v4";
import type { SourceData } from "@smithy/types";
import { awsCode, classify } from "../../providers/aws/aws-errors.ts";
import { createEc2Client } from "../../providers/aws/client.ts";
import { resolveAwsConfig } from "../../providers/aws/options.ts";
import { queryForm } from "../../providers/aws/query/served.ts";
import { signRequest } from "../../providers/aws/query/sigv4.ts";
import { parseXml } from "../../providers/aws/query/xml.ts";
import { buildRunInstancesInput, clientToken, type RunPlan } from "../../providers/aws/run-request.ts";
import { createRequest } from "../helpers/aws-requests.ts";
import { sendCanned, type ServedCommand } from "../helpers/ec2-canned.ts";

const REGION = "us-east-1";
const CREDS = { accessKeyId: "AKIDLEANTEST", secretAccessKey: "lean-test-secret" };
const RUN_ANSWER =
  '<?xml version="1.0" encoding="UTF-8"?><RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
  "<requestId>r-1</requestId><reservationId>r-0a</reservationId><ownerId>123</ownerId><instancesSet><item>" +
  "<instanceId>i-0a</instanceId><instanceState><code>0</code><name>pending</name></instanceState>" +
  "</item></instancesSet></RunInstancesResponse>";

/** What the SDK sends for `command` (answered with `answer`), as a sorted list of key=value. */
async function sdkBody(command: ServedCommand, answer: string): Promise<string[]> {
  return (await sendCanned(command, answer)).sentBody.split("&").sort();
}

function leanBody(command: string, input: object): string[] {
  const form = queryForm(command, input);
  assert.ok(form, `the lean path encodes this ${command} input`);
  return form.body.split("&").sort();
}

const BASE_PLAN: RunPlan = {
  name: "podvm-nginx-0a1b2c3d",
  userData: "#cloud-config\nwrite_files: [ {path: /run/x, content: 'a&b=c d+é'} ]\n",
  owner: {
    cluster: "c1",
    node: "worker 1",
    sandboxId: "0a".repeat(32),
    podName: "nginx",
    podNamespace: "default",
  },
  tags: { team: "a b", "cost/center": "x=y&z" },
  clientToken: clientToken("0a".repeat(32), "m6a.large", 0),
  rootDeviceName: "/dev/xvda",
  rootVolumeSize: 30,
  imageId: "ami-0abc",
  instanceType: "m6a.large",
  subnetId: "subnet-0abc",
  securityGroupIds: ["sg-0abc", "sg-0def"],
  keyName: "my key",
  usePublicIp: false,
  sevSnp: true,
  requireImdsv2: true,
};

const PLANS: Record<string, Partial<RunPlan>> = {
  "subnet, security groups, SEV-SNP, IMDSv2, root volume, tags": {},
  "public IP (network interface with groups)": { usePublicIp: true },
  "public IP without subnet or groups": { usePublicIp: true, subnetId: "", securityGroupIds: [] },
  "launch template with a root volume size": { launchTemplateName: "podvm-template" },
  "launch template alone": { launchTemplateName: "podvm-template", rootVolumeSize: 0 },
  "no IMDSv2, no SNP, no key, image-sized root": {
    requireImdsv2: false,
    sevSnp: false,
    keyName: "",
    rootVolumeSize: 0,
  },
  "no root device": { rootDeviceName: undefined },
};

describe("lean EC2 calls: the request body is the SDK's", () => {
  for (const [what, over] of Object.entries(PLANS)) {
    test(`RunInstances: ${what}`, async () => {
      const input = buildRunInstancesInput({ ...BASE_PLAN, ...over });
      const sdk = await sdkBody(new RunInstancesCommand(input), RUN_ANSWER);
      assert.deepEqual(leanBody("RunInstancesCommand", input), sdk);
    });
  }

  test("TerminateInstances of a batch", async () => {
    const input = { InstanceIds: ["i-0a", "i-0b", "i-0c"] };
    const answer =
      "<TerminateInstancesResponse><requestId>r</requestId><instancesSet/></TerminateInstancesResponse>";
    const sdk = await sdkBody(new TerminateInstancesCommand(input), answer);
    assert.deepEqual(leanBody("TerminateInstancesCommand", input), sdk);
  });

  test("an input member the lean path does not know, or no ClientToken, is left to the SDK", () => {
    const input = buildRunInstancesInput(BASE_PLAN);
    const run = (over: object) => queryForm("RunInstancesCommand", { ...input, ...over });
    assert.equal(run({ IamInstanceProfile: { Name: "p" } }), undefined);
    assert.equal(run({ MetadataOptions: { HttpProtocolIpv6: "on" } }), undefined);
    assert.equal(run({ ClientToken: undefined }), undefined);
    assert.ok(run({}), "the same input as built is served");
    assert.equal(queryForm("DescribeInstancesCommand", {}), undefined);
  });
});

const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

/** The hash the SDK's signer is given, from node:crypto. */
class NodeSha256 {
  readonly #h;
  constructor(secret?: SourceData) {
    this.#h = secret ? createHmac("sha256", bytes(secret)) : createHash("sha256");
  }
  update(data: SourceData): void {
    this.#h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
}

describe("lean EC2 calls: SigV4 is @smithy/signature-v4's", () => {
  const body = queryForm("RunInstancesCommand", buildRunInstancesInput(BASE_PLAN))!.body;
  const cases = [
    { what: "static keys, the regional endpoint", host: "ec2.us-east-1.amazonaws.com", creds: CREDS },
    {
      what: "a session token (IRSA, a profile's role), an endpoint with a port",
      host: "127.0.0.1:5000",
      creds: { ...CREDS, sessionToken: "FwoGZXIvYXdzE+/=token" },
    },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const now = new Date("2026-12-03T09:41:07.123Z");
      const ours = signRequest(
        { host: c.host, path: "/", body, headers: { "content-type": "application/x-www-form-urlencoded" } },
        c.creds,
        REGION,
        "ec2",
        now,
      );
      const signer = new SignatureV4({
        credentials: c.creds,
        region: REGION,
        service: "ec2",
        sha256: NodeSha256,
        applyChecksum: false,
      });
      const [hostname, port] = c.host.split(":");
      const theirs = await signer.sign(
        {
          method: "POST",
          protocol: "https:",
          hostname: hostname,
          ...(port ? { port: Number(port) } : {}),
          path: "/",
          query: {},
          headers: { host: c.host, "content-type": "application/x-www-form-urlencoded" },
          body,
        },
        { signingDate: now },
      );
      assert.equal(ours.authorization, theirs.headers.authorization);
      assert.equal(ours["x-amz-date"], theirs.headers["x-amz-date"]);
      assert.equal(ours["x-amz-security-token"], theirs.headers["x-amz-security-token"]);
    });
  }
});

describe("lean EC2 calls: XML reader", () => {
  test("decodes entities and CDATA, skips the declaration, comments and attributes", () => {
    const doc = parseXml(
      '<?xml version="1.0"?><!-- c --><R xmlns="x"><a>1 &amp; 2 &lt;&#x41;&#66;&gt;</a><b><![CDATA[<raw>]]></b><c/></R>',
    );
    const root = doc.children[0];
    assert.equal(root.name, "R");
    assert.deepEqual(
      root.children.map((c) => [c.name, c.text]),
      [
        ["a", "1 & 2 <AB>"],
        ["b", "<raw>"],
        ["c", ""],
      ],
    );
  });

  for (const [what, xml] of [
    ["an unclosed element", "<R><a>1</a>"],
    ["a mismatched close", "<R><a>1</b></R>"],
    ["an unterminated tag", "<R><a"],
    ["no element at all", "Service Unavailable"],
    ["two roots", "<R/><S/>"],
  ]) {
    test(`throws on ${what}`, () => assert.throws(() => parseXml(xml), /malformed XML/));
  }
});

/** A stand-in EC2 endpoint on 127.0.0.1: each POST is answered by `answer`, which sees the form. */
class FakeEndpoint {
  server!: Server;
  answer: (form: URLSearchParams, res: ServerResponse, req: IncomingMessage) => void = (_f, res) => res.end();
  readonly seen: { action: string; userAgent: string; amzDate: string }[] = [];

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        this.seen.push({
          action: form.get("Action") ?? "",
          userAgent: String(req.headers["user-agent"]),
          amzDate: String(req.headers["x-amz-date"]),
        });
        this.answer(form, res, req);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function ec2ErrorXml(code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error></Errors><RequestID>req-${code}</RequestID></Response>`
  );
}

describe("lean EC2 calls: failures are reported as the SDK reports them", () => {
  const fake = new FakeEndpoint();
  let url = "";
  before(async () => {
    url = await fake.start();
  });
  after(() => fake.stop());

  const client = (lean: boolean, apiTimeout = "30s") =>
    createEc2Client(
      resolveAwsConfig({
        AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
        AWS_REGION: REGION,
        AWS_ENDPOINT: url,
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_LEAN_EC2_CALLS: String(lean),
        AWS_API_TIMEOUT: apiTimeout,
      }),
      // One attempt, so that each failure reaches the test as the transport reported it.
      { policy: { maxAttempts: 1, budgetMs: 0, baseDelayMs: 1, maxDelayMs: 1 } },
      undefined,
    );

  const runInput = (): RunInstancesCommandInput =>
    buildRunInstancesInput({
      ...BASE_PLAN,
      clientToken: clientToken(createRequest().owner.sandboxId, "x", 0),
    });

  /** The failure of one RunInstances through the lean path and through the SDK: [lean, sdk]. */
  async function failures(apiTimeout?: string): Promise<[unknown, unknown]> {
    const out: unknown[] = [];
    for (const lean of [true, false]) {
      const ec2 = client(lean, apiTimeout);
      out.push(
        await ec2.send(new RunInstancesCommand(runInput())).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      ec2.destroy();
    }
    return out as [unknown, unknown];
  }

  const cases: [string, (res: ServerResponse) => void, string, string][] = [
    [
      "throttling (RequestLimitExceeded, 503)",
      (res) => res.writeHead(503).end(ec2ErrorXml("RequestLimitExceeded", "Request limit exceeded.")),
      "RequestLimitExceeded",
      "throttle",
    ],
    [
      "no capacity (InsufficientInstanceCapacity, 500)",
      (res) => res.writeHead(500).end(ec2ErrorXml("InsufficientInstanceCapacity", "no m6a.large")),
      "InsufficientInstanceCapacity",
      "final",
    ],
    [
      "a bad AMI (InvalidAMIID.NotFound, 400)",
      (res) =>
        res
          .writeHead(400)
          .end(ec2ErrorXml("InvalidAMIID.NotFound", "The image id 'ami-0abc' does not exist")),
      "InvalidAMIID.NotFound",
      "final",
    ],
    [
      "EC2's InternalError (500)",
      (res) => res.writeHead(500).end(ec2ErrorXml("InternalError", "An internal error has occurred")),
      "InternalError",
      "ambiguous",
    ],
    [
      "a proxy's 503 with an HTML body",
      (res) => res.writeHead(503, { "content-type": "text/html" }).end("<html><body>busy</body></html>"),
      "HTTP503",
      "ambiguous",
    ],
    ["a 502 with no body", (res) => res.writeHead(502).end(), "HTTP502", "ambiguous"],
    ["a dropped connection", (res) => res.socket?.destroy(), "ECONNRESET", "ambiguous"],
  ];
  for (const [what, answer, code, klass] of cases) {
    test(what, async () => {
      fake.answer = (_f, res) => answer(res);
      fake.seen.length = 0;
      const [lean, sdk] = await failures();
      assert.deepEqual(
        fake.seen.map((s) => s.userAgent.includes("lean-ec2-calls")),
        [true, false],
        "the first call went through the lean path, the second through the SDK",
      );
      assert.equal(awsCode(lean), code, String(lean));
      assert.equal(awsCode(sdk), code, String(sdk));
      assert.equal(classify(lean), klass);
      assert.equal(classify(sdk), klass);
      if (code.includes(".") || /^[A-Z][a-z]/.test(code))
        assert.equal((lean as Error).message, (sdk as Error).message);
    });
  }

  test("an endpoint that never answers fails after AWS_API_TIMEOUT (ETIMEDOUT), ambiguous", async () => {
    fake.answer = () => undefined;
    const [lean, sdk] = await failures("300ms");
    for (const err of [lean, sdk]) {
      assert.equal((err as Error).name, "TimeoutError", String(err));
      assert.equal(awsCode(err), "ETIMEDOUT", String(err));
      assert.equal(classify(err), "ambiguous");
    }
  });

  test("a 200 that is not XML fails clearly as ambiguous (the VM may exist), and the next call is served", async () => {
    const ec2 = client(true);
    fake.answer = (_f, res) => res.writeHead(200).end("not xml at all");
    const err = await ec2.send(new RunInstancesCommand(runInput())).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.match(String(err), /RunInstances: the answer is not EC2's XML/);
    assert.equal(classify(err), "ambiguous");
    fake.answer = (_f, res) => res.writeHead(200).end(RUN_ANSWER);
    const out = await ec2.send(new RunInstancesCommand(runInput()));
    assert.equal(out.Instances?.[0]?.InstanceId, "i-0a");
    assert.equal(out.$metadata.requestId, "r-1");
    ec2.destroy();
  });

  test("EC2's Date header corrects a skewed clock for the calls that follow, as the SDK does", async () => {
    const ec2 = client(true);
    const ahead = 2 * 3600_000;
    fake.seen.length = 0;
    fake.answer = (_f, res) =>
      res
        .writeHead(400, { date: new Date(Date.now() + ahead).toUTCString() })
        .end(
          ec2ErrorXml(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
          ),
        );
    const skewed = await ec2.send(new RunInstancesCommand(runInput())).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(awsCode(skewed), "RequestTimeTooSkewed");
    fake.answer = (_f, res) => res.writeHead(200).end(RUN_ANSWER);
    await ec2.send(new RunInstancesCommand(runInput()));
    ec2.destroy();
    const sentAt = fake.seen.map((s) =>
      Date.parse(s.amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z")),
    );
    assert.ok(Math.abs(sentAt[0] - Date.now()) < 60_000, "the first call is signed with the local clock");
    assert.ok(Math.abs(sentAt[1] - (Date.now() + ahead)) < 60_000, "the second is signed in EC2's time");
  });

  test("AWS_LEAN_EC2_CALLS=false sends RunInstances and TerminateInstances through the SDK", async () => {
    const answers: Record<string, string> = {
      RunInstances: RUN_ANSWER,
      TerminateInstances:
        "<TerminateInstancesResponse><requestId>t</requestId><instancesSet><item><instanceId>i-0a</instanceId>" +
        "<currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code>" +
        "<name>running</name></previousState></item></instancesSet></TerminateInstancesResponse>",
    };
    fake.answer = (form, res) => res.writeHead(200).end(answers[form.get("Action") ?? ""] ?? "");
    for (const lean of [true, false]) {
      fake.seen.length = 0;
      const ec2 = client(lean);
      await ec2.send(new RunInstancesCommand(runInput()));
      const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: ["i-0a"] }));
      assert.deepEqual(out.TerminatingInstances, [
        {
          InstanceId: "i-0a",
          CurrentState: { Code: 32, Name: "shutting-down" },
          PreviousState: { Code: 16, Name: "running" },
        },
      ]);
      ec2.destroy();
      assert.deepEqual(
        fake.seen.map((s) => [s.action, s.userAgent.includes("lean-ec2-calls")]),
        [
          ["RunInstances", lean],
          ["TerminateInstances", lean],
        ],
      );
    }
  });
});
