// Calls upstream's proxy only logs (CAA pkg/adaptor/proxy/service.go; docs/upstream-compat.md §3.3): the
// relayed bytes stay untouched, only the identifying fields are read.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { CreateSandboxRequest } from "../gen/agent/agent.ts";
import type { SyncPayloadEdit } from "../relay/relay.ts";

/** Field 1 (container_id) of Start/RemoveContainerRequest, or "" when unreadable. */
function containerId(payload: Uint8Array): string {
  try {
    const r = new BinaryReader(payload);
    while (r.pos < r.len) {
      const [field, type] = r.tag();
      if (field === 1 && type === WireType.LengthDelimited) return r.string();
      r.skip(type, field);
    }
  } catch {
    // The agent will refuse it; the log line just lacks the id.
  }
  return "";
}

export const logCreateSandbox: SyncPayloadEdit = (payload, logger) => {
  try {
    const req = CreateSandboxRequest.decode(payload);
    logger.info(`CreateSandbox: hostname:${req.hostname} sandboxId:${req.sandboxId}`);
    for (const s of req.storages)
      logger.info(
        `storage mountpoint:${s.mountPoint} source:${s.source} fstype:${s.fstype} driver:${s.driver}`,
      );
  } catch {
    logger.info("CreateSandbox");
  }
  return payload;
};

export const logStartContainer: SyncPayloadEdit = (payload, logger) => {
  logger.info(`StartContainer: containerID:${containerId(payload)}`);
  return payload;
};

export const logRemoveContainer: SyncPayloadEdit = (payload, logger) => {
  logger.info(`RemoveContainer: containerID:${containerId(payload)}`);
  return payload;
};

export const logDestroySandbox: SyncPayloadEdit = (payload, logger) => {
  logger.info("DestroySandbox");
  return payload;
};

/** The policy text itself is not logged (upstream does): it can be large and is the tenant's. */
export const logSetPolicy: SyncPayloadEdit = (payload, logger) => {
  logger.info({ bytes: payload.length }, "SetPolicy");
  return payload;
};
