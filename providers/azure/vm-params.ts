// The body of the one VM PUT, field for field as upstream builds it (docs/upstream-compat.md §8, CAA
// azure/provider.go getVMParameters), plus our owner tags so that List and the leak collector
// find the VM.
import type { ImageReference, VirtualMachine } from "@azure/arm-compute";
import { InvalidConfigError } from "../errors.ts";
import { OWNER_TAG_KEYS, type CloudVolumeAttachment, type OwnerTags } from "../types.ts";
import { dataDisks } from "./data-disks.ts";
import { diskName, nicName, publicIpName } from "./ids.ts";
import type { AzureConfig } from "./options.ts";

/** Azure's limit on base64-encoded userData (learn.microsoft.com/azure/virtual-machines/user-data). */
export const USER_DATA_MAX = 64 * 1024;

export type VmSettings = Pick<
  AzureConfig,
  | "region"
  | "subnetId"
  | "securityGroupId"
  | "imageId"
  | "sshUserName"
  | "disableCvm"
  | "enableSecureBoot"
  | "usePublicIp"
  | "rootVolumeSize"
  | "tags"
>;

export interface VmRequest {
  name: string;
  size: string;
  /** Image from the annotation, "" for the configured one. */
  image: string;
  userData: string;
  sshPublicKey: string;
  owner: OwnerTags;
  /** The pod's cloud volumes: attached as data disks (data-disks.ts). */
  volumes?: readonly CloudVolumeAttachment[];
}

export function ownerTags(owner: Partial<OwnerTags>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [field, key] of Object.entries(OWNER_TAG_KEYS) as Array<[keyof OwnerTags, string]>) {
    const value = owner[field];
    if (value !== undefined) tags[key] = value;
  }
  return tags;
}

export function encodeUserData(userData: string): string {
  const b64 = Buffer.from(userData, "utf8").toString("base64");
  if (b64.length > USER_DATA_MAX) {
    throw new InvalidConfigError(
      `base64 encoded userData is greater than 64KB (${b64.length} bytes; Azure allows ${USER_DATA_MAX}): shrink the init-data or policy`,
      { code: "UserDataTooLarge" },
    );
  }
  return b64;
}

/** `id` for ARM image ids, `communityGalleryImageId` for /CommunityGalleries/… (as upstream). */
export function imageReference(image: string): ImageReference {
  return image.startsWith("/CommunityGalleries/") ? { communityGalleryImageId: image } : { id: image };
}

export function buildVmParameters(cfg: VmSettings, req: VmRequest): VirtualMachine {
  const confidential = !cfg.disableCvm;
  const net = nicName(req.name);
  return {
    location: cfg.region,
    hardwareProfile: { vmSize: req.size },
    storageProfile: {
      imageReference: imageReference(req.image || cfg.imageId),
      osDisk: {
        name: diskName(req.name),
        createOption: "FromImage",
        caching: "ReadWrite",
        deleteOption: "Delete",
        ...(cfg.rootVolumeSize > 0 ? { diskSizeGB: cfg.rootVolumeSize } : {}),
        managedDisk: {
          storageAccountType: "Premium_LRS",
          ...(confidential ? { securityProfile: { securityEncryptionType: "VMGuestStateOnly" } } : {}),
        },
      },
      ...(req.volumes?.length ? { dataDisks: dataDisks(req.volumes) } : {}),
    },
    osProfile: {
      adminUsername: cfg.sshUserName,
      computerName: req.name,
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: {
          publicKeys: [{ path: `/home/${cfg.sshUserName}/.ssh/authorized_keys`, keyData: req.sshPublicKey }],
        },
      },
    },
    networkProfile: {
      networkApiVersion: "2020-11-01",
      networkInterfaceConfigurations: [
        {
          name: net,
          deleteOption: "Delete",
          ...(cfg.securityGroupId ? { networkSecurityGroup: { id: cfg.securityGroupId } } : {}),
          ipConfigurations: [
            {
              name: "ip-config",
              subnet: { id: cfg.subnetId },
              ...(cfg.usePublicIp
                ? { publicIPAddressConfiguration: { name: publicIpName(req.name), deleteOption: "Delete" } }
                : {}),
            },
          ],
        },
      ],
    },
    ...(confidential
      ? {
          securityProfile: {
            securityType: "ConfidentialVM",
            uefiSettings: { secureBootEnabled: cfg.enableSecureBoot, vTpmEnabled: true },
          },
        }
      : {}),
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    userData: encodeUserData(req.userData),
    // TAGS first, so that a TAGS entry can never overwrite an owner tag.
    tags: { ...cfg.tags, ...ownerTags(req.owner) },
  };
}
