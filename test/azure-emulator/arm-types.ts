// The slices of ARM request and resource bodies the emulator reads (REST shapes, `properties`
// envelopes included), following the spec examples named in docs/background.md §0.

export interface SubResource {
  id?: string;
}

export interface ArmError {
  code: string;
  message: string;
  target?: string;
  details?: ArmError[];
}

export interface VmPutBody {
  location?: string;
  tags?: Record<string, string>;
  properties?: {
    hardwareProfile?: { vmSize?: string };
    storageProfile?: {
      imageReference?: { id?: string; communityGalleryImageId?: string; sharedGalleryImageId?: string };
      osDisk?: {
        name?: string;
        createOption?: string;
        deleteOption?: string;
        diskSizeGB?: number;
        managedDisk?: { storageAccountType?: string; securityProfile?: { securityEncryptionType?: string } };
      };
      dataDisks?: DataDiskBody[];
    };
    osProfile?: {
      computerName?: string;
      adminUsername?: string;
      adminPassword?: string;
      linuxConfiguration?: {
        disablePasswordAuthentication?: boolean;
        ssh?: { publicKeys?: Array<{ path?: string; keyData?: string }> };
      };
    };
    networkProfile?: {
      networkApiVersion?: string;
      networkInterfaces?: Array<SubResource & { properties?: { primary?: boolean; deleteOption?: string } }>;
      networkInterfaceConfigurations?: NicConfig[];
    };
    securityProfile?: {
      securityType?: string;
      uefiSettings?: { secureBootEnabled?: boolean; vTpmEnabled?: boolean };
    };
    diagnosticsProfile?: { bootDiagnostics?: { enabled?: boolean } };
    userData?: string;
  };
}

export interface DataDiskBody {
  lun?: number;
  name?: string;
  createOption?: string;
  deleteOption?: string;
  caching?: string;
  managedDisk?: SubResource & { storageAccountType?: string };
}

export interface DiskPutBody {
  location?: string;
  tags?: Record<string, string>;
  sku?: { name?: string };
  properties?: { creationData?: { createOption?: string }; diskSizeGB?: number };
}

export interface NicConfig {
  name?: string;
  properties?: {
    primary?: boolean;
    deleteOption?: string;
    networkSecurityGroup?: SubResource;
    ipConfigurations?: Array<{
      name?: string;
      properties?: {
        subnet?: SubResource;
        primary?: boolean;
        publicIPAddressConfiguration?: { name?: string; properties?: { deleteOption?: string } };
      };
    }>;
  };
}

export interface NicPutBody {
  location?: string;
  tags?: Record<string, string>;
  properties?: {
    networkSecurityGroup?: SubResource;
    ipConfigurations?: Array<{
      name?: string;
      properties?: { subnet?: SubResource; publicIPAddress?: SubResource; primary?: boolean };
    }>;
  };
}

export interface PublicIpPutBody {
  location?: string;
  tags?: Record<string, string>;
  sku?: { name?: string };
}

/** A stored resource: its REST JSON as GET returns it. */
export type ArmJson = Record<string, unknown> & {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown>;
};
