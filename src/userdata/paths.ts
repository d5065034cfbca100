// Well-known pod VM paths (CAA pkg/paths/paths.go, pkg/userdata/provision.go; docs/upstream-compat.md §5.3).

export const PEERPOD_PATHS = {
  apfConfig: "/run/peerpod/apf.json",
  authJson: "/run/peerpod/auth.json",
  initdata: "/run/peerpod/initdata",
  scratchSpaceMarker: "/run/peerpod/scratch-space.marker",
  aaToml: "/run/peerpod/aa.toml",
  cdhToml: "/run/peerpod/cdh.toml",
  policyRego: "/run/peerpod/policy.rego",
  initdataDigest: "/run/peerpod/initdata.digest",
} as const;

/** write_files entries process-user-data writes; any other path is skipped with a log line. */
export const WRITE_FILES_ALLOWLIST: readonly string[] = [
  PEERPOD_PATHS.aaToml,
  PEERPOD_PATHS.cdhToml,
  PEERPOD_PATHS.apfConfig,
  PEERPOD_PATHS.authJson,
  PEERPOD_PATHS.initdata,
  PEERPOD_PATHS.scratchSpaceMarker,
];

/** initdata `data` entries written to /run/peerpod/<name>; others are skipped. */
export const INITDATA_FILES_ALLOWLIST: readonly string[] = [
  PEERPOD_PATHS.aaToml,
  PEERPOD_PATHS.cdhToml,
  PEERPOD_PATHS.policyRego,
];
