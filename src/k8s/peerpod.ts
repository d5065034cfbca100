// The PeerPod custom resource (peerpods.confidentialcontainers.org/v1alpha1; CAA
// src/peerpod-ctrl/api/v1alpha1/peerpod_types.go, docs/upstream-compat.md §9.1): its shape and names.

export const PEERPOD_GROUP = "confidentialcontainers.org";
export const PEERPOD_VERSION = "v1alpha1";
export const PEERPOD_PLURAL = "peerpods";
export const PEERPOD_KIND = "PeerPod";
export const PEERPOD_FINALIZER = "peer.pod/finalizer";

export interface PeerPod {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  spec: { cloudProvider: string; instanceID: string };
  status?: { cleand?: boolean };
}

export interface PeerPodList {
  items: PeerPod[];
}

const RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** `<pod>-resource-<rand5>` with the alphabet of k8s.io/apimachinery util/rand.String, like upstream. */
export function peerPodName(podName: string, random: () => number = Math.random): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += RAND_ALPHABET[Math.floor(random() * RAND_ALPHABET.length)];
  return `${podName}-resource-${suffix}`;
}
