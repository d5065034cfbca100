// The adaptor's version (package.json's), for `caa version` and the pod-VM side's -version.
export const CAA_VERSION = "0.1.0";

/**
 * Upstream's version banner (CAA src/cloud-api-adaptor/cmd/version.go, ShowVersion): its first line is
 * `<program> version <version>`; a Go build's `go:` line becomes node's.
 */
export function versionBanner(program: string): string {
  return `${program} version ${CAA_VERSION}\n  node: ${process.version}\n`;
}
