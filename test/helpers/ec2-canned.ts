// An SDK EC2 client whose HTTP handler answers every request with one recorded body (status
// 200): the SDK's own serialiser and deserialiser run, nothing goes on the network. The tests
// of the lean EC2 path (providers/aws/query) compare its form and its reading with the SDK's.
import { Readable } from "node:stream";
import { EC2Client, type RunInstancesCommand, type TerminateInstancesCommand } from "@aws-sdk/client-ec2";

export type ServedCommand = RunInstancesCommand | TerminateInstancesCommand;

/** Sends `command` through the SDK against `answer`: the body it sent and the output it read. */
export async function sendCanned(
  command: ServedCommand,
  answer: string,
): Promise<{ sentBody: string; output: Record<string, unknown> }> {
  let sentBody = "";
  const client = new EC2Client({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDCANNED", secretAccessKey: "canned-secret" },
    maxAttempts: 1,
    requestHandler: {
      handle: async (req: { body: string }) => {
        sentBody = req.body;
        return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from(answer)]) } };
      },
    },
  });
  try {
    const { $metadata: _metadata, ...output } = await client.send(command as RunInstancesCommand);
    return { sentBody, output };
  } finally {
    client.destroy();
  }
}
