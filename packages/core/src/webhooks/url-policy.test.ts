import { checkWebhookUrl, isForbiddenAddress } from "./url-policy";

const strict = { allowInsecure: false };
const insecure = { allowInsecure: true };

function reasonFor(raw: string, options: { allowInsecure: boolean }): string | null {
  const check = checkWebhookUrl(raw, options);
  return check.ok ? null : check.reason;
}

describe("checkWebhookUrl", () => {
  it("accepts public https URLs in both modes and returns the parsed URL", () => {
    for (const raw of ["https://hooks.example.com/settle", "https://example.com:8443/a/b?x=1&y=2", "https://8.8.8.8/hook", "https://[2606:4700::1111]/hook"]) {
      for (const options of [strict, insecure]) {
        const check = checkWebhookUrl(raw, options);
        expect(check).toEqual({ ok: true, url: new URL(raw) });
      }
    }
  });

  it("refuses what is not an absolute URL", () => {
    for (const raw of ["", "hooks.example.com/settle", "/settle", "https://", "https://exa mple.com/", "https://[::1/"]) {
      expect(reasonFor(raw, strict)).toBe("url: must be an absolute URL");
      expect(reasonFor(raw, insecure)).toBe("url: must be an absolute URL");
    }
  });

  it("requires https, and admits http only in insecure mode", () => {
    expect(reasonFor("http://hooks.example.com/", strict)).toBe("url: must use https");
    expect(reasonFor("http://hooks.example.com/", insecure)).toBeNull();
    expect(reasonFor("HTTPS://hooks.example.com/", strict)).toBeNull();
    for (const raw of ["ftp://hooks.example.com/", "file:///etc/passwd", "ws://hooks.example.com/", "javascript:alert(1)", "mailto:a@example.com"]) {
      expect(reasonFor(raw, strict)).toBe("url: must use https");
      expect(reasonFor(raw, insecure)).toBe("url: must use http or https");
    }
  });

  it("refuses credentials in the URL", () => {
    for (const raw of [
      "https://user:pass@hooks.example.com/",
      "https://user@hooks.example.com/",
      "https://:pass@hooks.example.com/",
      "https://user:@hooks.example.com/",
    ]) {
      expect(reasonFor(raw, strict)).toBe("url: must not contain a username or password");
      expect(reasonFor(raw, insecure)).toBe("url: must not contain a username or password");
    }
  });

  it("refuses a fragment, even an empty one", () => {
    for (const raw of ["https://hooks.example.com/#top", "https://hooks.example.com/a?b=c#d", "https://hooks.example.com/#"]) {
      expect(reasonFor(raw, strict)).toBe("url: must not contain a fragment");
      expect(reasonFor(raw, insecure)).toBe("url: must not contain a fragment");
    }
  });

  it("limits the length to 2048 characters", () => {
    const base = "https://hooks.example.com/";
    const atLimit = base + "a".repeat(2048 - base.length);
    expect(reasonFor(atLimit, strict)).toBeNull();
    expect(reasonFor(atLimit + "a", strict)).toBe("url: must be at most 2048 characters");
    expect(reasonFor(atLimit + "a", insecure)).toBe("url: must be at most 2048 characters");
    // Within the limit as typed, over it once percent-encoded (each space becomes %20).
    const expands = base + "x y".repeat(600);
    expect(expands.length).toBeLessThanOrEqual(2048);
    expect(reasonFor(expands, strict)).toBe("url: must be at most 2048 characters");
  });

  it("refuses localhost by name unless insecure", () => {
    for (const raw of ["https://localhost/", "https://LOCALHOST:8443/", "https://localhost./", "https://api.localhost/", "https://a.b.localhost./x"]) {
      expect(reasonFor(raw, strict)).toBe("url: must not point to localhost");
      expect(reasonFor(raw, insecure)).toBeNull();
    }
    // Only the name itself and its subdomains, not names that merely contain it.
    expect(reasonFor("https://localhost.example.com/", strict)).toBeNull();
    expect(reasonFor("https://mylocalhost/", strict)).toBeNull();
  });

  it("refuses private, loopback and reserved IP literals unless insecure", () => {
    const hosts = [
      "127.0.0.1",
      "127.255.255.254",
      "0.0.0.0",
      "0.1.2.3",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "100.127.255.255",
      "224.0.0.1",
      "239.255.255.250",
      "240.0.0.1",
      "255.255.255.255",
      "192.0.2.1",
      "198.18.0.1",
      "[::1]",
      "[::]",
      "[fc00::1]",
      "[fd12:3456::1]",
      "[fe80::1]",
      "[febf::1]",
      "[ff02::1]",
      "[::ffff:127.0.0.1]",
      "[::ffff:10.0.0.1]",
      "[::ffff:a9fe:a9fe]",
      "[64:ff9b::7f00:1]",
      "[2001:db8::1]",
    ];
    for (const host of hosts) {
      expect([host, reasonFor(`https://${host}/hook`, strict)]).toEqual([host, "url: must not point to a private, loopback or reserved address"]);
      expect([host, reasonFor(`https://${host}/hook`, insecure)]).toEqual([host, null]);
    }
  });

  it("sees through alternative IPv4 spellings, which the URL parser canonicalises", () => {
    for (const raw of ["https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://127.1/", "https://0/", "https://127.0.0.1./"]) {
      expect([raw, reasonFor(raw, strict)]).toEqual([raw, "url: must not point to a private, loopback or reserved address"]);
    }
  });

  it("accepts public addresses next to the refused ranges", () => {
    for (const host of [
      "1.1.1.1",
      "9.255.255.255",
      "11.0.0.1",
      "100.63.255.255",
      "100.128.0.1",
      "172.15.255.255",
      "172.32.0.1",
      "169.253.0.1",
      "223.255.255.255",
      "[2001:4860:4860::8888]",
      "[fbff::1]",
    ]) {
      expect([host, reasonFor(`https://${host}/`, strict)]).toEqual([host, null]);
    }
  });
});

describe("isForbiddenAddress", () => {
  it("refuses every special-purpose range, in both families", () => {
    const refused = [
      "0.0.0.0",
      "127.0.0.1",
      "10.255.255.255",
      "172.16.5.4",
      "192.168.0.1",
      "169.254.169.254",
      "100.64.0.0",
      "224.0.0.251",
      "255.255.255.255",
      "203.0.113.7",
      "198.51.100.7",
      "::",
      "::1",
      "fc00::",
      "fdff:ffff::1",
      "fe80::1",
      "fec0::1",
      "ff05::2",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:192.168.0.1",
      "::ffff:100.64.0.1",
      "::127.0.0.1",
      "64:ff9b::a00:1",
      "2002:7f00:1::",
      "2001:db8::1",
    ];
    for (const address of refused) expect([address, isForbiddenAddress(address)]).toEqual([address, true]);
  });

  it("allows public unicast addresses, including IPv4-mapped ones", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "::ffff:808:808"]) {
      expect([address, isForbiddenAddress(address)]).toEqual([address, false]);
    }
  });

  it("handles brackets and zone ids, and fails closed on anything that is not an IP", () => {
    expect(isForbiddenAddress("[::1]")).toBe(true);
    expect(isForbiddenAddress("fe80::1%eth0")).toBe(true);
    expect(isForbiddenAddress("[2606:4700::1111]")).toBe(false);
    for (const notAnAddress of ["", "localhost", "example.com", "127.0.0.1:80", "999.1.1.1"]) expect(isForbiddenAddress(notAnAddress)).toBe(true);
  });
});
