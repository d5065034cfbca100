// `caa serve aws -aws-profile p -imageid ami-…`: upstream's provider flags work on our command line
// (CAA src/cloud-api-adaptor/cmd/cloud-api-adaptor/main.go parses `<provider> -flag value`), and
// `-aws-profile`, which has no env name, really selects the shared-credentials profile: the file
// below has no [default] profile and no key is in the environment, so the start-up's EC2 calls
// to moto authenticate only through it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import {
  CLI,
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";
import { awsEnv, motoClient, seedWorld, type MotoWorld } from "../helpers/moto-fixtures.ts";

const exec = promisify(execFile);
const skip = needsMoto();

describe("caa serve takes the provider's own flags", { skip, timeout: 120_000 }, () => {
  let moto: Moto;
  let world: MotoWorld;
  let dir: string;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    moto = await startMoto();
    world = await seedWorld(motoClient(moto.url));
    dir = await makeDaemonDir();
    await writeFile(
      join(dir, "credentials"),
      "[peerpods]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
      { mode: 0o600 },
    );
    await writeFile(join(dir, "config"), "", { mode: 0o600 });
  });

  after(async () => {
    await daemon?.kill();
    await cleanupDaemon({ dir, bridge: "" });
    await moto?.stop();
  });

  /**
   * The daemon's env: moto and this test's credentials files. Keys and image id are empty (an empty
   * env var counts as unset), so only the flags can supply them.
   */
  function env(): Record<string, string> {
    return daemonEnv(dir, {
      ...awsEnv(moto.url, world),
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      PODVM_AMI_ID: "",
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
      AWS_CONFIG_FILE: join(dir, "config"),
    });
  }

  test("-aws-profile and -imageid are read from the command line", async () => {
    daemon = await startDaemon(dir, env(), 60_000, {
      args: ["aws", "-aws-profile", "peerpods", "-imageid", world.amiId],
    });
    const logs = daemon.logs();
    assert.match(logs, / credentialSource=profile /);
    // DescribeImages of the flag's image succeeded with the profile's keys.
    assert.match(logs, new RegExp(`RootDeviceName and RootVolumeSize of the image ${world.amiId} is`));
    await daemon.kill();
    daemon = undefined;
  });

  test("without the profile flag the same start-up finds no credentials", async () => {
    await assert.rejects(
      startDaemon(dir, env(), 60_000, { args: ["aws", "-imageid", world.amiId] }),
      /caa serve exited[\s\S]*credentials/i,
    );
  });

  test("a misspelt provider flag is refused with its name; -h lists the provider's flags", async () => {
    await assert.rejects(
      exec(process.execPath, [CLI, "serve", "aws", "-aws-profil", "x"], {
        env: { ...process.env, ...env() },
      }),
      (err: { stderr?: string }) => /unknown flag -aws-profil\b/.test(err.stderr ?? ""),
    );
    const { stdout } = await exec(process.execPath, [CLI, "serve", "aws", "-h"]);
    assert.match(stdout, /^ +-aws-profile +AWS Login Profile$/m);
    assert.match(stdout, /^ +-imageid +PODVM_AMI_ID +Pod VM ami id$/m);
    const { stdout: azure } = await exec(process.execPath, [CLI, "serve", "azure", "--help"]);
    assert.match(azure, /^ +-subscriptionid +AZURE_SUBSCRIPTION_ID\b/m);
    assert.doesNotMatch(azure, /-aws-profile/);
  });
});
