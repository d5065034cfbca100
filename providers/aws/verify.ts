// CLOUD_CONFIG_VERIFY: check the configured network, key pair and launch template against EC2
// at start-up, so that a typo is a clear error before any pod arrives (upstream only checks
// that the AMI is set: "ImageId is empty").
import {
  DescribeKeyPairsCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { InvalidConfigError } from "../errors.ts";
import { awsCode, classify, toProviderError } from "./aws-errors.ts";
import type { AwsConfig } from "./options.ts";

/**
 * Checks the configured network, key pair and launch template. Returns warnings for checks the
 * credentials may not run (UnauthorizedOperation: RunInstances may still be allowed).
 */
export async function verifyConfig(ec2: EC2Client, cfg: AwsConfig, signal?: AbortSignal): Promise<string[]> {
  const warnings: string[] = [];
  const check = async (setting: string, value: string, call: () => Promise<unknown>): Promise<void> => {
    try {
      await call();
    } catch (err) {
      const code = awsCode(err);
      if (code === "UnauthorizedOperation") {
        warnings.push(`${setting} ${value} not verified: AWS ${code}`);
        return;
      }
      if (classify(err) === "final")
        throw new InvalidConfigError(
          `${setting} ${value} not usable: AWS ${code}: ${(err as Error).message}`,
          {
            code,
            cause: err,
          },
        );
      throw toProviderError(`verifying ${setting}`, err);
    }
  };
  const opts = { abortSignal: signal };
  if (cfg.useLaunchTemplate) {
    await check("PODVM_LAUNCHTEMPLATE_NAME", cfg.launchTemplateName, () =>
      ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [cfg.launchTemplateName] }), opts),
    );
    return warnings;
  }
  if (cfg.subnetId)
    await check("AWS_SUBNET_ID", cfg.subnetId, () =>
      ec2.send(new DescribeSubnetsCommand({ SubnetIds: [cfg.subnetId] }), opts),
    );
  if (cfg.securityGroupIds.length > 0)
    await check("AWS_SG_IDS", cfg.securityGroupIds.join(","), () =>
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: cfg.securityGroupIds }), opts),
    );
  if (cfg.keyName)
    await check("SSH_KP_NAME", cfg.keyName, () =>
      ec2.send(new DescribeKeyPairsCommand({ KeyNames: [cfg.keyName] }), opts),
    );
  return warnings;
}
