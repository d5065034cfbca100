// The cloud_volumes annotation is user input: what is accepted, and the error for each bad field.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CLOUD_VOLUMES_ANNOTATION,
  CloudVolumeError,
  cloudVolumesJson,
  parseCloudVolumes,
} from "../../src/sandbox/cloud-volumes.ts";

const good = { mount_point: "/data", fs_type: "ext4", lun: 0, disk_id: "vol-0123456789abcdef0" };
const parse = (v: unknown) => parseCloudVolumes(JSON.stringify(v));

describe("cloud_volumes annotation", () => {
  test("upstream's shape parses, string numbers included, and renders back the same", () => {
    const vols = parse({
      data: good,
      logs: {
        ...good,
        mount_point: "/var/log/app/",
        lun: "1",
        disk_id: "vol-0123456789abcdef1",
        fs_group: "1000",
        encrypt_type: "LUKS",
        key_id: "kbs:///default/key/1",
      },
    });
    assert.deepEqual(vols, [
      { name: "data", mountPoint: "/data", fsType: "ext4", lun: 0, diskId: "vol-0123456789abcdef0" },
      {
        name: "logs",
        mountPoint: "/var/log/app",
        fsType: "ext4",
        lun: 1,
        diskId: "vol-0123456789abcdef1",
        fsGroup: 1000,
        encryptType: "LUKS",
        keyId: "kbs:///default/key/1",
      },
    ]);
    assert.deepEqual(parseCloudVolumes(cloudVolumesJson(vols)), vols);
    // Upstream's forwarder decodes lun and fs_group into Go strings: a JSON number would not decode.
    assert.equal(
      cloudVolumesJson(vols.slice(1)),
      '{"logs":{"mount_point":"/var/log/app","fs_type":"ext4","lun":"1","disk_id":"vol-0123456789abcdef1","fs_group":"1000","encrypt_type":"LUKS","key_id":"kbs:///default/key/1"}}',
    );
    assert.deepEqual(parseCloudVolumes(undefined), []);
    assert.deepEqual(parseCloudVolumes(""), []);
  });

  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{", /not JSON/],
    ["an array", [good], /must be a JSON object of volumes/],
    ["a name that is no path segment", { "../x": good }, /volume name "\.\.\/x" must be/],
    ["an unknown field", { d: { ...good, size: 3 } }, /volume "d": unknown field size/],
    ["a missing disk_id", { d: { ...good, disk_id: "" } }, /volume "d": disk_id is missing/],
    [
      "a relative mount point",
      { d: { ...good, mount_point: "data" } },
      /mount_point "data" must be an absolute path/,
    ],
    [
      "a mount point with ..",
      { d: { ...good, mount_point: "/a/../etc" } },
      /must be an absolute path without "\.\."/,
    ],
    ["btrfs", { d: { ...good, fs_type: "btrfs" } }, /fs_type "btrfs" is not one of ext4, ext3, xfs/],
    ["a negative lun", { d: { ...good, lun: -1 } }, /lun must be a non-negative integer, got -1/],
    ["a lun above 63", { d: { ...good, lun: 64 } }, /lun 64 is above 63/],
    ["encryption without a key", { d: { ...good, encrypt_type: "LUKS" } }, /encrypt_type LUKS needs key_id/],
    [
      "another encryption",
      { d: { ...good, encrypt_type: "aes", key_id: "k" } },
      /encrypt_type "aes" is not one of LUKS/,
    ],
    [
      "two volumes at one mount point",
      { a: good, b: { ...good, lun: 1, disk_id: "vol-0123456789abcdef9" } },
      /volumes "a" and "b" have the same mount_point "\/data"/,
    ],
    ["one disk twice", { a: good, b: { ...good, lun: 1, mount_point: "/b" } }, /same disk_id/],
  ];
  for (const [what, value, re] of bad)
    test(`refuses ${what}, naming the annotation`, () => {
      assert.throws(
        () => (typeof value === "string" ? parseCloudVolumes(value) : parse(value)),
        (err: Error) =>
          err instanceof CloudVolumeError &&
          /^io\.confidentialcontainers\.org\.cloud_volumes annotation: /.test(err.message) &&
          re.test(err.message),
      );
    });

  test("refuses more than 16 volumes and an oversized annotation", () => {
    const many = Object.fromEntries(
      Array.from({ length: 17 }, (_, i) => [
        `v${i}`,
        { ...good, lun: i, mount_point: `/m${i}`, disk_id: `vol-${i}` },
      ]),
    );
    assert.throws(() => parse(many), /17 volumes, at most 16/);
    assert.throws(() => parseCloudVolumes(" ".repeat(17 * 1024) + "{}"), /bytes, at most 16384/);
  });
});

// Found by the annotations fuzz target: V8's JSON.parse error quotes the input raw.
test("a cloud_volumes annotation that is not JSON gets a one-line error, its controls escaped", () => {
  assert.throws(
    () => parseCloudVolumes("\u001bV\u001a\n{"),
    (err: Error) =>
      err instanceof CloudVolumeError &&
      err.message.startsWith(`${CLOUD_VOLUMES_ANNOTATION} annotation: not JSON: `) &&
      // eslint-disable-next-line no-control-regex
      !/[\u0000-\u001f]/.test(err.message),
  );
});
