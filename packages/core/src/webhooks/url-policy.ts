// Which webhook URLs Settle agrees to call. A webhook makes our servers send requests to an address a
// client chose, so without these rules a client could point us at our own network (metadata
// endpoints, databases, admin ports) and read the results back through delivery logs.
import { BlockList, isIP } from "node:net";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const MAX_URL_LENGTH = 2048;

// IANA special-purpose ranges that are not ordinary public unicast. Node's BlockList matches an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) against the IPv4 rules, so the mapped form needs no
// rule of its own (a ::ffff:0:0/96 rule would, in turn, match every IPv4 address).
const IPV4_RANGES: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network", includes the unspecified address
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, where cloud metadata services live
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, includes the broadcast address
];

const IPV6_RANGES: ReadonlyArray<readonly [string, number]> = [
  ["::", 96], // unspecified, loopback (::1) and the deprecated IPv4-compatible form
  ["64:ff9b::", 96], // NAT64: would reach an IPv4 address of the translator's choosing
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard-only
  ["2001::", 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: embeds an arbitrary IPv4 address
  ["3fff::", 20], // documentation
  ["fc00::", 7], // unique local (private)
  ["fe80::", 10], // link-local
  ["fec0::", 10], // deprecated site-local
  ["ff00::", 8], // multicast
];

const forbidden = buildBlockList();

function buildBlockList(): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of IPV4_RANGES) list.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of IPV6_RANGES) list.addSubnet(network, prefix, "ipv6");
  return list;
}

/**
 * True when `address` (an IPv4 or IPv6 literal, optionally bracketed or with a zone id) is one Settle
 * must never connect to on a client's behalf. Anything that is not an IP literal is refused too: a
 * caller passing a hostname here has skipped resolution, and failing open would hide that.
 */
export function isForbiddenAddress(address: string): boolean {
  const bare = stripZone(stripBrackets(address));
  const family = isIP(bare);
  if (family === 0) return true;
  return forbidden.check(bare, family === 4 ? "ipv4" : "ipv6");
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

// BlockList does not understand "fe80::1%eth0" and would answer "not blocked".
function stripZone(address: string): string {
  const percent = address.indexOf("%");
  return percent === -1 ? address : address.slice(0, percent);
}

/** Validates a webhook endpoint a client registers; `allowInsecure` (development only) admits http and local targets. */
export function checkWebhookUrl(raw: string, options: { allowInsecure: boolean }): UrlCheck {
  if (raw.length > MAX_URL_LENGTH) return refuse(`must be at most ${MAX_URL_LENGTH} characters`);
  const url = parseAbsolute(raw);
  if (url === null) return refuse("must be an absolute URL");
  // Normalisation can lengthen the URL (percent-encoding), and the normalised form is what is stored.
  if (url.href.length > MAX_URL_LENGTH) return refuse(`must be at most ${MAX_URL_LENGTH} characters`);
  const schemeProblem = checkScheme(url, options.allowInsecure);
  if (schemeProblem !== null) return refuse(schemeProblem);
  if (url.username !== "" || url.password !== "") return refuse("must not contain a username or password");
  // `hash` is "" for a bare trailing "#", which still marks a fragment; any "#" left in href is one.
  if (url.href.includes("#")) return refuse("must not contain a fragment");
  if (!options.allowInsecure) {
    const hostProblem = checkHost(url.hostname);
    if (hostProblem !== null) return refuse(hostProblem);
  }
  return { ok: true, url };
}

function refuse(rule: string): UrlCheck {
  return { ok: false, reason: `url: ${rule}` };
}

function parseAbsolute(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

function checkScheme(url: URL, allowInsecure: boolean): string | null {
  if (url.protocol === "https:") return null;
  if (allowInsecure) return url.protocol === "http:" ? null : "must use http or https";
  return "must use https";
}

// The URL parser has already turned every IPv4 spelling (0x7f.1, 2130706433, 127.1) into dotted
// decimal and lower-cased names, so literal checks here see canonical forms.
function checkHost(hostname: string): string | null {
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  if (host === "localhost" || host.endsWith(".localhost")) return "must not point to localhost";
  const bare = stripBrackets(host);
  if (isIP(bare) !== 0 && isForbiddenAddress(bare)) return "must not point to a private, loopback or reserved address";
  return null;
}
