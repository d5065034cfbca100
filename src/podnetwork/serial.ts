// A FIFO queue that runs one async task at a time (upstream's iptables mutex, and the
// create-then-move of the temporary ppvxlan<N> link, which must not race for a name).

export type Serial = <T>(task: () => Promise<T>) => Promise<T>;

export function serialQueue(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
}
