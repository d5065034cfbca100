// AWS_REQUIRE_IMDSV2: what the start-up log and a failed boot say about the pod VM's metadata mode.
// Upstream launches without MetadataOptions (CAA src/cloud-providers/aws/provider.go CreateInstance),
// and pod-VM images before upstream v0.21 fetch user-data with IMDSv1 only (CAA
// src/cloud-api-adaptor/pkg/userdata/imds.go gained the IMDSv2 token later), so they never boot when
// IMDSv2 is required.

export function imdsModeLine(requireImdsv2: boolean): string {
  return requireImdsv2
    ? "IMDS mode: IMDSv2 only (HttpTokens=required, hop limit 1). Pod-VM images before upstream v0.21 " +
        "read their user-data with IMDSv1 and will not boot; set AWS_REQUIRE_IMDSV2=false for them"
    : "IMDS mode: no metadata options sent (AWS_REQUIRE_IMDSV2=false, as upstream); the account's " +
        "defaults apply, which may leave IMDSv1 open inside the pod VM";
}

/** Appended to StartVM's agent-connect failure: the first thing to check with an older image. */
export function imdsAgentConnectHint(requireImdsv2: boolean): string | undefined {
  return requireImdsv2
    ? "the pod VM was launched IMDSv2-only; a pod-VM image before upstream v0.21 cannot read its " +
        "user-data that way: set AWS_REQUIRE_IMDSV2=false"
    : undefined;
}
