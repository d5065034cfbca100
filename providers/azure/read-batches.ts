// ARM reads of many sandboxes shared within a short window (providers/cloudapi/batcher.ts): the
// NIC, public IP and disk GETs of creates, gets and deletes. ARM has no multi-id GET, so a batch
// of several names is answered by one LIST of the resource group (a few pages) instead of one GET
// each — when that is cheaper: a batch smaller than the pages the last LIST took goes out as GETs.
// A name the LIST does not show is GET on its own when the caller needs the resource (so it gets
// ARM's own 404), and is gone when the caller only checks for leftovers.
import type { ComputeManagementClient, Disk } from "@azure/arm-compute";
import type { NetworkInterface, NetworkManagementClient, PublicIPAddress } from "@azure/arm-network";
import { Batcher, type BatchWindow } from "../cloudapi/batcher.ts";
import { asCaller } from "../cloudapi/caller.ts";
import { describeFailure } from "./azure-errors.ts";

interface Kinds {
  nic: NetworkInterface;
  publicIp: PublicIPAddress;
  disk: Disk;
}
type Kind = keyof Kinds;

interface Item {
  name: string;
  /** The caller needs it: a name the LIST misses is read with its own GET. */
  mustExist: boolean;
}

export interface ArmReads {
  /** The resource; a 404 is thrown when `mustExist`, else answered as undefined. */
  get<K extends Kind>(
    kind: K,
    rg: string,
    name: string,
    mustExist: boolean,
    signal?: AbortSignal,
  ): Promise<Kinds[K] | undefined>;
}

interface Clients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
}

function getOne<K extends Kind>(c: Clients, kind: K, rg: string, name: string): Promise<Kinds[K]> {
  const got =
    kind === "nic"
      ? c.network.networkInterfaces.get(rg, name)
      : kind === "publicIp"
        ? c.network.publicIPAddresses.get(rg, name)
        : c.compute.disks.get(rg, name);
  return got as Promise<Kinds[K]>;
}

function listAll<K extends Kind>(c: Clients, kind: K, rg: string) {
  const pages =
    kind === "nic"
      ? c.network.networkInterfaces.list(rg).byPage()
      : kind === "publicIp"
        ? c.network.publicIPAddresses.list(rg).byPage()
        : c.compute.disks.listByResourceGroup(rg).byPage();
  return pages as AsyncIterable<Array<Kinds[K]>>;
}

async function orMissing<T>(mustExist: boolean, get: () => Promise<T>): Promise<T | undefined | Error> {
  try {
    return await get();
  } catch (err) {
    if (!mustExist && describeFailure(err).status === 404) return undefined;
    return err instanceof Error ? err : new Error(String(err));
  }
}

export function armReads(clients: Clients, window: BatchWindow): ArmReads {
  const batchers = new Map<string, Batcher<Item, unknown>>();
  /** Pages the last LIST of a kind in a group took: below that many names, GETs are cheaper. */
  const pagesOf = new Map<string, number>();

  const exec = async <K extends Kind>(kind: K, rg: string, items: readonly Item[]) => {
    const key = `${kind}/${rg.toLowerCase()}`;
    const one = (it: Item) => orMissing(it.mustExist, () => getOne(clients, kind, rg, it.name));
    if (items.length <= (pagesOf.get(key) ?? 1)) return Promise.all(items.map(one));
    const found = new Map<string, Kinds[K]>();
    let pages = 0;
    for await (const page of listAll(clients, kind, rg)) {
      pages++;
      for (const r of page) found.set(r.name?.toLowerCase() ?? "", r);
    }
    pagesOf.set(key, pages);
    return Promise.all(
      items.map((it) => {
        const r = found.get(it.name.toLowerCase());
        return r ? Promise.resolve(r) : it.mustExist ? one(it) : Promise.resolve(undefined);
      }),
    );
  };

  return {
    get(kind, rg, name, mustExist, signal) {
      const key = `${kind}/${rg.toLowerCase()}`;
      let b = batchers.get(key);
      if (!b) {
        b = new Batcher<Item, unknown>(window, (items) =>
          asCaller(`batch:${key}`, () => exec(kind, rg, items)),
        );
        batchers.set(key, b);
      }
      return b.add({ name, mustExist }, signal) as Promise<Kinds[typeof kind] | undefined>;
    },
  };
}
