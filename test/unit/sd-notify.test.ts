// sdNotify outside systemd and where systemd-notify cannot run: nothing happens, or a warning; never
// an error that would stop the forwarder (the message itself: test/integration/podvm-upstream-units.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { sdNotify } from "../../src/util/sd-notify.ts";
import { captureLogger } from "../helpers/capture-logger.ts";

test("without NOTIFY_SOCKET nothing is sent and nothing is logged", async () => {
  const log = captureLogger();
  assert.equal(await sdNotify("READY=1", log.logger, {}, "/nonexistent/systemd-notify"), false);
  assert.deepEqual(log.lines, []);
});

test("a systemd-notify that cannot run is a warning naming it, not an error", async () => {
  const log = captureLogger();
  const env = { NOTIFY_SOCKET: "/run/systemd/notify" };
  assert.equal(await sdNotify("READY=1", log.logger, env, "/nonexistent/systemd-notify"), false);
  const [warning] = log.find("cannot notify systemd (/nonexistent/systemd-notify)");
  assert.equal(warning?.level, 40);
  assert.equal(warning?.state, "READY=1");
});
