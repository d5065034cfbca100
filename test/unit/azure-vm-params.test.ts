// The VM PUT body, field for field against upstream's getVMParameters (docs/upstream-compat.md §8).
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidConfigError } from "../../providers/errors.ts";
import { azureOptions, resolveAzureConfig } from "../../providers/azure/options.ts";
import {
  buildVmParameters,
  encodeUserData,
  USER_DATA_MAX,
  type VmRequest,
} from "../../providers/azure/vm-params.ts";

const SUBNET =
  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/default";
const IMAGE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/podvm";

function settings(env: Record<string, string> = {}) {
  return resolveAzureConfig({
    AZURE_REGION: "eastus",
    AZURE_SUBNET_ID: SUBNET,
    AZURE_IMAGE_ID: IMAGE,
    ...env,
  });
}

const REQ: VmRequest = {
  name: "podvm-nginx-12345678",
  size: "Standard_DC2as_v5",
  image: "",
  userData: "#cloud-config\n",
  sshPublicKey: "ssh-rsa AAAAB3NzaC1yc2E peerpod",
  owner: { cluster: "c", node: "n", sandboxId: "12345678abcdef", podName: "nginx", podNamespace: "ns" },
};

test("defaults give a confidential VM with vTPM, VMGuestStateOnly disk encryption and delete options everywhere", () => {
  const vm = buildVmParameters(settings(), REQ);
  assert.deepEqual(vm, {
    location: "eastus",
    hardwareProfile: { vmSize: "Standard_DC2as_v5" },
    storageProfile: {
      imageReference: { id: IMAGE },
      osDisk: {
        name: "podvm-nginx-12345678-disk",
        createOption: "FromImage",
        caching: "ReadWrite",
        deleteOption: "Delete",
        managedDisk: {
          storageAccountType: "Premium_LRS",
          securityProfile: { securityEncryptionType: "VMGuestStateOnly" },
        },
      },
    },
    osProfile: {
      adminUsername: "peerpod",
      computerName: "podvm-nginx-12345678",
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: { publicKeys: [{ path: "/home/peerpod/.ssh/authorized_keys", keyData: REQ.sshPublicKey }] },
      },
    },
    networkProfile: {
      networkApiVersion: "2020-11-01",
      networkInterfaceConfigurations: [
        {
          name: "podvm-nginx-12345678-net",
          deleteOption: "Delete",
          ipConfigurations: [{ name: "ip-config", subnet: { id: SUBNET } }],
        },
      ],
    },
    securityProfile: {
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: false, vTpmEnabled: true },
    },
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    userData: Buffer.from("#cloud-config\n").toString("base64"),
    tags: {
      "peerpod-cluster": "c",
      "peerpod-node": "n",
      "peerpod-sandbox-id": "12345678abcdef",
      "peerpod-pod-name": "nginx",
      "peerpod-pod-namespace": "ns",
    },
  });
});

test("DISABLECVM drops the security profile and disk encryption; secure boot, NSG, public IP, disk size, user name apply", () => {
  const vm = buildVmParameters(
    settings({
      DISABLECVM: "true",
      ENABLE_SECURE_BOOT: "true",
      AZURE_NSG_ID: "/nsg/id",
      USE_PUBLIC_IP: "1",
      ROOT_VOLUME_SIZE: "40",
      SSH_USERNAME: "azureuser",
    }),
    REQ,
  );
  assert.equal(vm.securityProfile, undefined);
  assert.deepEqual(vm.storageProfile?.osDisk?.managedDisk, { storageAccountType: "Premium_LRS" });
  assert.equal(vm.storageProfile?.osDisk?.diskSizeGB, 40);
  const nic = vm.networkProfile?.networkInterfaceConfigurations?.[0];
  assert.deepEqual(nic?.networkSecurityGroup, { id: "/nsg/id" });
  assert.deepEqual(nic?.ipConfigurations?.[0].publicIPAddressConfiguration, {
    name: "podvm-nginx-12345678-net",
    deleteOption: "Delete",
  });
  assert.equal(vm.osProfile?.adminUsername, "azureuser");
  assert.equal(
    vm.osProfile?.linuxConfiguration?.ssh?.publicKeys?.[0].path,
    "/home/azureuser/.ssh/authorized_keys",
  );
  const cvm = buildVmParameters(settings({ ENABLE_SECURE_BOOT: "true" }), REQ);
  assert.equal(cvm.securityProfile?.uefiSettings?.secureBootEnabled, true);
});

test("community gallery images go to communityGalleryImageId; the annotation's image wins over AZURE_IMAGE_ID", () => {
  const community = "/CommunityGalleries/g-1/Images/podvm/Versions/1.0.0";
  assert.deepEqual(
    buildVmParameters(settings({ AZURE_IMAGE_ID: community }), REQ).storageProfile?.imageReference,
    {
      communityGalleryImageId: community,
    },
  );
  assert.deepEqual(
    buildVmParameters(settings(), { ...REQ, image: "/other/image" }).storageProfile?.imageReference,
    {
      id: "/other/image",
    },
  );
});

test("TAGS go on the VM but cannot overwrite an owner tag", () => {
  const vm = buildVmParameters(settings({ TAGS: "team=a,peerpod-node=forged" }), REQ);
  assert.equal(vm.tags?.team, "a");
  assert.equal(vm.tags?.["peerpod-node"], "n");
});

test("user-data of exactly 64 KiB after base64 passes; one byte more is a clear error", () => {
  const fits = "a".repeat((USER_DATA_MAX / 4) * 3);
  assert.equal(encodeUserData(fits).length, USER_DATA_MAX);
  assert.throws(
    () => encodeUserData(fits + "a"),
    (err: unknown) =>
      err instanceof InvalidConfigError &&
      err.code === "UserDataTooLarge" &&
      /greater than 64KB \(65540 bytes; Azure allows 65536\)/.test(err.message),
  );
});

test("settings use upstream's env names, flags and defaults", () => {
  const byEnv = Object.fromEntries(Object.values(azureOptions).map((o) => [o.env ?? `-${o.flag}`, o.flag]));
  for (const [env, flag] of Object.entries({
    AZURE_CLIENT_ID: "clientid",
    AZURE_CLIENT_SECRET: "secret",
    AZURE_TENANT_ID: "tenantid",
    AZURE_SUBSCRIPTION_ID: "subscriptionid",
    AZURE_REGION: "region",
    AZURE_RESOURCE_GROUP: "resourcegroup",
    AZURE_INSTANCE_SIZE: "instance-size",
    AZURE_INSTANCE_SIZES: "instance-sizes",
    AZURE_SUBNET_ID: "subnetid",
    AZURE_NSG_ID: "securitygroupid",
    AZURE_IMAGE_ID: "imageid",
    SSH_USERNAME: "ssh-username",
    DISABLECVM: "disable-cvm",
    ENABLE_SECURE_BOOT: "enable-secure-boot",
    USE_PUBLIC_IP: "use-public-ip",
    ROOT_VOLUME_SIZE: "root-volume-size",
    TAGS: "tags",
    AZURE_ARM_ENDPOINT: "azure-arm-endpoint",
    AZURE_AUTHORITY_HOST: "azure-authority-host",
  })) {
    assert.equal(byEnv[env], flag, env);
  }
  const d = resolveAzureConfig({});
  assert.equal(d.instanceSize, "Standard_DC2as_v5");
  assert.equal(d.sshUserName, "peerpod");
  assert.equal(d.rootVolumeSize, 0);
  assert.equal(d.disableCvm, false);
  assert.equal(d.armEndpoint, "https://management.azure.com");
  assert.equal(d.authorityHost, "https://login.microsoftonline.com");
  for (const secret of ["clientId", "clientSecret", "tenantId"] as const)
    assert.equal(azureOptions[secret].secret, true);
});
