// Waiting calls of one API family, served round-robin by caller (a sandbox, an instance, the leak
// collector): each caller gets one call per round, so one sandbox with many calls queued (its
// retries, a long paginated list) cannot hold the others back.

export class FairQueue<T> {
  /** Insertion order is the round: the caller served last moves to the end. */
  private readonly byCaller = new Map<string, T[]>();
  private size = 0;

  get length(): number {
    return this.size;
  }

  get callers(): number {
    return this.byCaller.size;
  }

  /** `front`: ahead of this caller's other calls (a call that was already sent once). */
  push(caller: string, item: T, front = false): void {
    const list = this.byCaller.get(caller);
    if (list) {
      if (front) list.unshift(item);
      else list.push(item);
    } else {
      this.byCaller.set(caller, [item]);
    }
    this.size++;
  }

  shift(): T | undefined {
    const next = this.byCaller.entries().next();
    if (next.done) return undefined;
    const [caller, list] = next.value;
    const item = list.shift() as T;
    this.byCaller.delete(caller);
    if (list.length > 0) this.byCaller.set(caller, list);
    this.size--;
    return item;
  }

  remove(caller: string, item: T): boolean {
    const list = this.byCaller.get(caller);
    const at = list?.indexOf(item) ?? -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.byCaller.delete(caller);
    this.size--;
    return true;
  }

  drainAll(): T[] {
    const all = [...this.byCaller.values()].flat();
    this.byCaller.clear();
    this.size = 0;
    return all;
  }
}
