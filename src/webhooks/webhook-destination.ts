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

/** Why `address` may not be a webhook's destination, or null when it may (a public unicast address). */
export function refusedAddressReason(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  // process() reads an IPv4-mapped IPv6 address (::ffff:10.0.0.1) as the IPv4 address it carries.
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  // Everything but public unicast: private, loopback, link-local, unique-local, CGNAT, multicast,
  // unspecified, broadcast, reserved, and the IPv6 ranges that embed an IPv4 address (6to4, NAT64, Teredo).
  return range === 'unicast' ? null : `is in a ${range} range`;
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

/**
 * A `lookup` for node:http(s) requests: resolves as usual, then keeps only the addresses a webhook
 * may reach, so the socket connects to a checked address and nothing else.
 */
export function destinationLookup(allowPrivateNetworks: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints ?? 0 }, (error, found) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const addresses = found as LookupAddress[];
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
    });
  };
}

// A name that does not resolve when saved is accepted (DNS may not be set up yet); every delivery checks again.
const SAVE_LOOKUP_TIMEOUT_MS = 3_000;

function lookupAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([]), SAVE_LOOKUP_TIMEOUT_MS);
    dns.lookup(hostname, { all: true }, (error, addresses) => {
      clearTimeout(timer);
      resolve(error ? [] : addresses);
    });
  });
}

/**
 * Checks a webhook URL before it is saved; returns why it is refused, or null. Only http and https,
 * no credentials in the URL (the signature authenticates deliveries), and, unless private networks
 * are allowed, a host that is not and does not resolve to a private or reserved address.
 */
export async function checkWebhookUrl(value: string, allowPrivateNetworks: boolean): Promise<string | null> {
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
  if (name === 'localhost' || name.endsWith('.localhost'))
    return 'targets this machine (localhost), which webhooks may not target';
  for (const { address } of await lookupAll(name)) {
    const reason = refusedAddressReason(address);
    if (reason !== null) return `targets ${describeRefusal(host, address, reason)}`;
  }
  return null;
}
