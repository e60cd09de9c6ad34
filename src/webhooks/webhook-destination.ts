import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where a webhook may point. A subscriber chooses the URL, so without these checks the API would
 * send requests for them into our own networks (cloud metadata at 169.254.169.254, databases on
 * 10.x, the server itself). Only public unicast addresses are allowed, unless the operator sets
 * WEBHOOK_ALLOW_PRIVATE_NETWORKS (tests, local development). The address is checked when the
 * webhook is saved and again on every delivery, against the address the connection actually uses:
 * the delivery's own DNS lookup (destinationLookup) refuses private answers, so a name that
 * resolved to a public address when saved cannot be rebound to a private one afterwards.
 */

// IPv6 space assigned for global unicast; the rest (apart from what range() names) is reserved.
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
// IPv4-compatible IPv6 (::a.b.c.d, deprecated): some stacks route it to the IPv4 address it embeds.
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

/** Why `address` may not be a webhook's destination, or null when it may (a public unicast address). */
export function refusedAddressReason(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  // process() reads an IPv4-mapped IPv6 address (::ffff:10.0.0.1) as the IPv4 address it carries.
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  // Everything but public unicast: private, loopback, link-local, unique-local, CGNAT, multicast,
  // unspecified, broadcast, reserved, and the IPv6 ranges that embed an IPv4 address (6to4, NAT64, Teredo).
  if (range !== 'unicast') return `is in a ${range} range`;
  // ipaddr.js calls every IPv6 address it has no name for unicast, including ::/96 and all that lies
  // outside 2000::/3.
  if (parsed instanceof ipaddr.IPv6) {
    if (parsed.match(IPV4_COMPATIBLE)) return 'is an IPv4-compatible IPv6 address (::/96)';
    if (!parsed.match(GLOBAL_UNICAST)) return 'is outside the global unicast range 2000::/3';
  }
  return null;
}

/** `[::1]` → `::1`: URL.hostname keeps the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export class DestinationRefusedError extends Error {
  override name = 'DestinationRefusedError';
  readonly code = 'EWEBHOOKDESTINATION';
}

function describeRefusal(host: string, address: string, reason: string): string {
  return host === address
    ? `the address ${address}, which ${reason}, and webhooks may not target it`
    : `${host} resolves to ${address}, which ${reason}, and webhooks may not target it`;
}

type LookupAddress = { address: string; family: number };

/** RFC 6761: `localhost` and the names under it are this machine, whatever DNS says. */
function isLocalhostName(name: string): boolean {
  const normalized = name.toLowerCase().replace(/\.$/, '');
  return normalized === 'localhost' || normalized.endsWith('.localhost');
}

const DNS_TRIES = 2;

/**
 * The addresses of `hostname` (IPv4 first), of one family or both, within `budgetMs`. Resolved by
 * c-ares (dns.Resolver), on the event loop: dns.lookup would run getaddrinfo on libuv's thread pool
 * of four, which a request's timeout does not cancel, so names whose DNS never answers could hold
 * every thread (and with them file system and crypto work) for as long as the system resolver
 * tries. Each lookup has its own resolver, cancelled when the budget is spent. /etc/hosts is not
 * read; `localhost` names are answered as loopback without asking DNS.
 */
export async function resolveHost(
  hostname: string,
  options: { family?: number; budgetMs: number; servers?: readonly string[] },
): Promise<LookupAddress[]> {
  const { family = 0, servers = [] } = options;
  const wants = (candidate: 4 | 6) => family !== (candidate === 4 ? 6 : 4);
  if (isLocalhostName(hostname)) {
    return [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ].filter((entry) => wants(entry.family as 4 | 6));
  }
  const budget = Math.max(1, Math.floor(options.budgetMs));
  const resolver = new dns.promises.Resolver({
    timeout: Math.max(1, Math.floor(budget / (2 * DNS_TRIES))),
    tries: DNS_TRIES,
  });
  if (servers.length > 0) resolver.setServers([...servers]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    resolver.cancel();
  }, budget);
  try {
    const [v4, v6] = await Promise.allSettled([
      wants(4) ? resolver.resolve4(hostname) : Promise.resolve([]),
      wants(6) ? resolver.resolve6(hostname) : Promise.resolve([]),
    ]);
    const addresses = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (addresses.length > 0) return addresses;
    const codeOf = (result: PromiseSettledResult<unknown>) =>
      result.status === 'rejected' ? (result.reason as NodeJS.ErrnoException).code : undefined;
    if (timedOut || [v4, v6].some((result) => ['ETIMEOUT', 'ECANCELLED'].includes(codeOf(result) ?? ''))) {
      throw Object.assign(new Error(`the DNS lookup of ${hostname} got no answer in time`), {
        code: 'ETIMEOUT',
        hostname,
      });
    }
    const failure = [v4, v6].find((result) => result.status === 'rejected');
    // Both answered, without addresses (NODATA for either family).
    if (failure === undefined) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
    throw failure.reason;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A `lookup` for node:http(s) requests: resolves within `budgetMs` (resolveHost), then keeps only
 * the addresses a webhook may reach, so the socket connects to a checked address and nothing else.
 */
export function destinationLookup(settings: {
  allowPrivateNetworks: boolean;
  budgetMs: number;
  servers: readonly string[];
}): LookupFunction {
  const { allowPrivateNetworks, budgetMs, servers } = settings;
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolveHost(hostname, { family, budgetMs, servers }).then(
      (addresses) => {
        const allowed = allowPrivateNetworks
          ? addresses
          : addresses.filter((entry) => refusedAddressReason(entry.address) === null);
        const first = allowed[0];
        if (first === undefined) {
          const refused = addresses[0];
          const message =
            refused === undefined
              ? `${hostname} has no address`
              : describeRefusal(hostname, refused.address, refusedAddressReason(refused.address) ?? 'is refused');
          callback(new DestinationRefusedError(message), '', 0);
          return;
        }
        // Node asks for every address when it races IPv4 and IPv6 (autoSelectFamily), else for one.
        if ((options as { all?: boolean }).all) {
          (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, allowed);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

// A name that does not resolve when saved is accepted (DNS may not be set up yet); every delivery checks again.
const SAVE_LOOKUP_TIMEOUT_MS = 3_000;

/**
 * Checks a webhook URL before it is saved; returns why it is refused, or null. Only http and https,
 * no credentials in the URL (the signature authenticates deliveries), and, unless private networks
 * are allowed, a host that is not and does not resolve to a private or reserved address.
 */
export async function checkWebhookUrl(
  value: string,
  allowPrivateNetworks: boolean,
  dnsServers: readonly string[] = [],
): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username !== '' || url.password !== '') {
    return 'must not contain credentials; verify the webhook-signature header instead';
  }
  if (allowPrivateNetworks) return null;
  const host = hostOf(url);
  if (net.isIP(host) !== 0) {
    const reason = refusedAddressReason(host);
    return reason === null ? null : `targets ${describeRefusal(host, host, reason)}`;
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (isLocalhostName(name)) return 'targets this machine (localhost), which webhooks may not target';
  const addresses = await resolveHost(name, { budgetMs: SAVE_LOOKUP_TIMEOUT_MS, servers: dnsServers }).catch(() => []);
  for (const { address } of addresses) {
    const reason = refusedAddressReason(address);
    if (reason !== null) return `targets ${describeRefusal(host, address, reason)}`;
  }
  return null;
}
