// The lean path for the hot EC2 calls (served.ts), as one middleware on the SDK client's stack.
// It sits at the start of the serialize step, so every initialize middleware (our retry, the
// call budget, the tests' stubs and recorders) runs for these calls as for any other; there it
// answers the call itself: the Query form, SigV4, one POST on its own socket pool, EC2's XML
// read for the fields we use. What it skips is the SDK's per-call machinery (endpoint rules,
// schema serde, its signer and HTTP handler): the provider's create and delete cost about 0.7 x the
// CPU they cost through the SDK in a burst of 100 (BENCHMARKS.md). Credentials, the regional
// endpoint and the clock offset still come from the SDK client's resolved config, so the
// credential chain (profile, IRSA, IMDS) is the SDK's.
import type { IncomingHttpHeaders } from "node:http";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type {
  HandlerExecutionContext,
  Pluggable,
  SerializeHandler,
  SerializeHandlerArguments,
} from "@smithy/types";
import { abortSignalOf } from "../retry.ts";
import { ec2Failure, rootOf } from "./answers.ts";
import { queryForm } from "./served.ts";
import { signRequest, type SigningCredentials } from "./sigv4.ts";
import { textOf } from "./xml.ts";
import { Transport, type Answer, type Timeouts } from "./transport.ts";

const FORM = "application/x-www-form-urlencoded";
const USER_AGENT = "peerpod-caa lean-ec2-calls";

export interface LeanCallsOptions {
  region: string;
  /** The endpoint override (AWS_ENDPOINT…), or "" for the SDK's regional endpoint. */
  endpoint: string;
  timeouts: Timeouts;
}

export interface LeanCalls {
  plugin<I extends object, O extends object>(): Pluggable<I, O>;
  /** Closes the lean path's sockets. */
  destroy(): void;
}

/** One Query form POSTed to EC2's endpoint `url`, signed for `region` at `now`. */
export function postForm(
  transport: Transport,
  url: URL,
  body: string,
  signing: { creds: SigningCredentials; region: string; now: Date },
  signal?: AbortSignal,
): Promise<Answer> {
  const headers = signRequest(
    { host: url.host, path: url.pathname || "/", body, headers: { "content-type": FORM } },
    signing.creds,
    signing.region,
    "ec2",
    signing.now,
  );
  headers["user-agent"] = USER_AGENT;
  return transport.post(url, headers, body, signal);
}

export function leanCalls(client: EC2Client, opts: LeanCallsOptions): LeanCalls {
  const transport = new Transport(opts.timeouts);
  let endpoint: Promise<URL> | undefined;
  const endpointUrl = (): Promise<URL> =>
    (endpoint ??= (async () => {
      if (opts.endpoint) return new URL(opts.endpoint);
      const resolved = client.config.endpointProvider({
        Region: opts.region,
        UseFIPS: await client.config.useFipsEndpoint(),
        UseDualStack: await client.config.useDualstackEndpoint(),
      });
      return new URL(resolved.url.href);
    })().catch((err: unknown) => {
      endpoint = undefined;
      throw err;
    }));

  // As the SDK's signer does after every answer (@aws-sdk/core AwsSdkSigV4Signer): EC2's Date
  // header sets the clock offset that signs later calls, so a node whose clock is off gets its
  // calls signed in EC2's time after one RequestTimeTooSkewed; a cached (Age) or late answer does not.
  const sampleClock = (headers: IncomingHttpHeaders, sentAt: number): void => {
    const server = headers.date ? Date.parse(headers.date) : NaN;
    const now = Date.now();
    if (Number.isNaN(server) || headers.age !== undefined || now - sentAt > 900_000) return;
    client.config.systemClockOffset = server - now;
  };

  const serve =
    <I extends object, O extends object>(next: SerializeHandler<I, O>, context: HandlerExecutionContext) =>
    async (args: SerializeHandlerArguments<I>) => {
      const form = queryForm(context.commandName ?? "", args.input);
      if (!form) return next(args);
      const { call, body } = form;
      const url = await endpointUrl();
      const creds = await client.config.credentials();
      const now = new Date(Date.now() + (client.config.systemClockOffset ?? 0));
      const sentAt = Date.now();
      const answer = await postForm(
        transport,
        url,
        body,
        { creds, region: opts.region, now },
        abortSignalOf(context),
      );
      sampleClock(answer.headers, sentAt);
      if (answer.status !== 200) throw ec2Failure(answer.status, answer.body);
      let root;
      try {
        root = rootOf(answer.body);
      } catch (err) {
        // A 200 we cannot read may still have launched the VM: EPROTO makes it ambiguous
        // (aws-errors.ts), so RunInstances looks for its instance before it is repeated.
        throw Object.assign(
          new Error(`EC2 ${call.action}: the answer is not EC2's XML (${(err as Error).message})`, {
            cause: err,
          }),
          { code: "EPROTO" },
        );
      }
      const output = call.read(root);
      return {
        output: {
          $metadata: {
            httpStatusCode: 200,
            requestId: textOf(root, "requestId"),
            attempts: 1,
            totalRetryDelay: 0,
          },
          ...output,
        } as O,
        response: undefined,
      };
    };

  return {
    plugin: () => ({
      applyToStack(stack) {
        stack.add(serve, { step: "serialize", priority: "high", name: "peerpodLeanCalls" });
      },
    }),
    destroy: () => transport.destroy(),
  };
}
