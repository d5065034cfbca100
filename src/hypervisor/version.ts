/** Upstream's Version answers this constant (CAA pkg/adaptor/cloud/cloud.go). */
export const HYPERVISOR_VERSION = "0.0.0";
