// VXLAN identifiers: VNI = min id + pod index (docs/upstream-compat.md §4.1, CAA `…/vxlan/workernode.go`).
// The index itself is allocated durably by the sandbox store, not here.

export const DEFAULT_VXLAN_PORT = 4789;
export const DEFAULT_VXLAN_MIN_ID = 555000;
/** The VNI field is 24 bits wide. */
export const MAX_VXLAN_ID = 2 ** 24 - 1;

/** The VNI for a pod index; throws with upstream's messages when out of range. */
export function vniFor(index: number, minId: number = DEFAULT_VXLAN_MIN_ID): number {
  if (!Number.isInteger(minId) || minId < 0 || minId > MAX_VXLAN_ID) {
    throw new RangeError(`vxlan minimum ID ${minId} is not between 0 and ${MAX_VXLAN_ID}`);
  }
  if (!Number.isInteger(index) || index < 0 || index > MAX_VXLAN_ID - minId) {
    throw new RangeError(
      `pod index ${index} is not between 0 and ${MAX_VXLAN_ID - minId} for vxlan minimum ID ${minId}`,
    );
  }
  return minId + index;
}

/** Rejects a UDP port that cannot carry VXLAN. */
export function checkVxlanPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`vxlan port ${port} is not between 1 and 65535`);
  }
}
