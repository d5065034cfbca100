// Synchronous checks ARM makes on a VM PUT before anything is created (400/404 with nothing made).
import type { VmPutBody } from "./arm-types.ts";
import { validateDataDisks } from "./disks.ts";
import { armError, type Reply } from "./http.ts";
import type { EmulatorState } from "./state.ts";

const USER_DATA_MAX = 64 * 1024;

/** Does an image id exist? A gallery image without a version means its latest version. */
export function imageExists(state: EmulatorState, id: string): boolean {
  const want = id.toLowerCase();
  return state.options.images.some((img) => {
    const have = img.toLowerCase();
    return have === want || have.startsWith(`${want}/versions/`);
  });
}

function invalid(message: string, target: string): Reply {
  return armError(400, "InvalidParameter", message, { target });
}

export function validateVmPut(state: EmulatorState, name: string, body: VmPutBody): Reply | undefined {
  const p = body.properties ?? {};
  if (!/^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9]$/.test(name)) {
    return invalid(`The VM name '${name}' is invalid.`, "vmName");
  }
  if (body.location?.toLowerCase() !== state.options.location.toLowerCase()) {
    return armError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${body.location}' is not available for resource type 'Microsoft.Compute/virtualMachines'.`,
    );
  }
  const size = p.hardwareProfile?.vmSize ?? "";
  if (!state.options.vmSizes.some((s) => s.name.toLowerCase() === size.toLowerCase())) {
    return invalid(`The requested VM size ${size} is not available in the current region.`, "vmSize");
  }
  const image = p.storageProfile?.imageReference;
  const imageId = image?.id ?? image?.communityGalleryImageId ?? image?.sharedGalleryImageId;
  if (!imageId || !imageExists(state, imageId)) {
    return armError(
      404,
      "ImageNotFound",
      `The image '${imageId ?? ""}' cannot be found in '${state.options.location}' region.`,
      { target: "imageReference" },
    );
  }
  const keys = p.osProfile?.linuxConfiguration?.ssh?.publicKeys ?? [];
  if (p.osProfile?.linuxConfiguration?.disablePasswordAuthentication && keys.length === 0) {
    return invalid(
      "Authentication using either SSH or by user name and password must be enabled in Linux profile.",
      "linuxConfiguration",
    );
  }
  for (const k of keys) {
    if (!/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+/.test(k.keyData ?? "")) {
      return invalid(
        "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.",
        "linuxConfiguration.ssh.publicKeys.keyData",
      );
    }
  }
  if (p.userData !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(p.userData))
      return invalid("UserData must be base64 encoded.", "userData");
    if (p.userData.length > USER_DATA_MAX) {
      return invalid(`The size of userData exceeds the limit of ${USER_DATA_MAX} bytes.`, "userData");
    }
  }
  if (p.securityProfile?.securityType === "ConfidentialVM") {
    const enc = p.storageProfile?.osDisk?.managedDisk?.securityProfile?.securityEncryptionType;
    if (!enc)
      return invalid("securityEncryptionType is required for ConfidentialVM.", "securityEncryptionType");
    if (p.securityProfile.uefiSettings?.vTpmEnabled !== true) {
      return invalid("vTPM must be enabled for ConfidentialVM.", "vTpmEnabled");
    }
  }
  const dataDisks = validateDataDisks(state, name, size, p.storageProfile?.dataDisks ?? []);
  if (dataDisks) return dataDisks;
  for (const cfg of p.networkProfile?.networkInterfaceConfigurations ?? []) {
    const nsg = cfg.properties?.networkSecurityGroup?.id;
    if (nsg && !state.options.nsgs.some((n) => n.toLowerCase() === nsg.toLowerCase())) {
      return armError(
        400,
        "InvalidResourceReference",
        `Resource ${nsg} referenced by resource ${name} was not found.`,
      );
    }
    for (const ipc of cfg.properties?.ipConfigurations ?? []) {
      const subnet = ipc.properties?.subnet?.id;
      if (!state.subnet(subnet)) {
        return armError(
          400,
          "InvalidResourceReference",
          `Resource ${subnet ?? "(no subnet)"} referenced by resource ${name} was not found.`,
        );
      }
    }
  }
  return undefined;
}
