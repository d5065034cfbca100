// podvminfo.PodVMInfo/GetInfo with Wait: callers waiting for a pod's instance id, woken each time
// the lifecycle records an instance.
import { EventEmitter } from "node:events";
import { LifecycleError } from "./errors.ts";

export class InstanceWaiters {
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  /** An instance was recorded for some sandbox. */
  notify(): void {
    this.events.emit("instance");
  }

  /** `find()` now, or once it answers after a later notify(); rejects when `signal` fires first. */
  wait(find: () => string | undefined, what: string, signal: AbortSignal): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const onInstance = () => {
        const id = find();
        if (id) {
          cleanup();
          resolve(id);
        }
      };
      const onAbort = () => {
        cleanup();
        reject(new LifecycleError("not-found", `no instance for pod ${what} before the deadline`));
      };
      const cleanup = () => {
        this.events.off("instance", onInstance);
        signal.removeEventListener("abort", onAbort);
      };
      this.events.on("instance", onInstance);
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }
}
