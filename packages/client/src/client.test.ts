import { createSettleClient } from "./client";

// waitForPayment's loop, with the API stood in for by a `fetch` that answers at once: which waits
// it asks the long poll for. (The real API is exercised by tests/client.int.test.ts.)
describe("waitForPayment", () => {
  const pending = { id: "0193a0f3-0000-7abc-8def-0123456789ab", status: "pending" };

  it("asks the long poll for the whole timeout, even when a millisecond passes before it asks", async () => {
    const waits: (string | null)[] = [];
    const settle = createSettleClient({
      baseUrl: "http://settle.test",
      fetch: (request) => {
        waits.push(new URL(request.url).searchParams.get("wait"));
        return Promise.resolve(new Response(JSON.stringify(pending), { status: 200, headers: { "content-type": "application/json" } }));
      },
    });
    const realNow = Date.now;
    let calls = 0;
    // Each reading of the clock is 2 ms later than the one before.
    const start = realNow();
    Date.now = () => start + 2 * calls++;
    try {
      expect((await settle.waitForPayment(pending.id, { timeoutSeconds: 1 })).status).toBe("pending");
    } finally {
      Date.now = realNow;
    }
    expect(waits[0]).toBe("1");
  });
});
