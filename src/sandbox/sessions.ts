// The agent proxy sessions of running sandboxes, and the reconnects a restart starts in the
// background. Holds no sandbox state: the lifecycle (lifecycle.ts) says when to open and close.
import type { Logger } from "../log/logger.ts";
import { messageOf } from "../../providers/errors.ts";
import type { AgentConnectOptions, AgentPort, AgentSession } from "./ports.ts";

export class AgentSessions {
  private readonly agent: AgentPort | undefined;
  private readonly log: Logger;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly reconnects = new Map<string, AbortController>();

  constructor(agent: AgentPort | undefined, log: Logger) {
    this.agent = agent;
    this.log = log;
  }

  /** Serve the sandbox's agent socket; resolves once the forwarder answers. */
  async connect(opts: AgentConnectOptions): Promise<void> {
    if (!this.agent) return;
    this.sessions.set(opts.sandboxId, await this.agent.connect(opts));
  }

  /** Serve a running sandbox's agent socket again after a restart, without waiting for the VM. */
  reconnect(opts: Omit<AgentConnectOptions, "signal">): void {
    if (!this.agent) return;
    const id = opts.sandboxId;
    const controller = new AbortController();
    this.reconnects.set(id, controller);
    this.agent
      .connect({ ...opts, signal: controller.signal })
      .then(
        (session) => {
          this.sessions.set(id, session);
          this.log.info({ sandbox: id }, "reconnected the agent proxy after restart");
        },
        (err: unknown) => {
          this.log.error({ sandbox: id, err: messageOf(err) }, "reconnecting the agent proxy failed");
        },
      )
      .finally(() => {
        if (this.reconnects.get(id) === controller) this.reconnects.delete(id);
      });
  }

  /** Stop serving a sandbox's agent socket (and any reconnect in flight); never throws. */
  async close(id: string): Promise<void> {
    this.reconnects.get(id)?.abort();
    this.reconnects.delete(id);
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    if (!session) return;
    try {
      await session.close();
    } catch (err) {
      this.log.warn({ sandbox: id, err: messageOf(err) }, "closing agent proxy failed");
    }
  }

  /** Close every socket; the VMs keep running and the next daemon reconnects them. */
  async closeAll(): Promise<void> {
    for (const c of this.reconnects.values()) c.abort();
    this.reconnects.clear();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map((s) => s.close()));
  }
}
