// IPv4 arithmetic for the local provider's address ranges.

export interface Subnet {
  base: number;
  prefix: number;
}

export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) throw new Error(`invalid IPv4 subnet ${JSON.stringify(cidr)} (expected a.b.c.d/n)`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 30) {
    throw new Error(`invalid IPv4 subnet ${JSON.stringify(cidr)} (prefix must be 8..30)`);
  }
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { base: addr - (addr % size), prefix };
}

export function ipOf(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** The n-th host address (1-based) of a subnet. */
export function hostAddress(subnet: Subnet, n: number): string {
  return ipOf(subnet.base + n);
}

/** Usable host numbers: 1 .. size-2 (network and broadcast excluded). */
export function hostCount(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefix) - 2;
}

export function subnetText(s: Subnet): string {
  return `${ipOf(s.base)}/${s.prefix}`;
}

/** The network an address with its prefix length belongs to (any prefix 0..32). */
export function networkOf(address: string, prefixlen: number): Subnet {
  const addr = address.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - prefixlen);
  return { base: addr - (addr % size), prefix: prefixlen };
}

/** Two ranges overlap when one contains the other (CIDR blocks never partly overlap). */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const aEnd = a.base + 2 ** (32 - a.prefix);
  const bEnd = b.base + 2 ** (32 - b.prefix);
  return a.base < bEnd && b.base < aEnd;
}
