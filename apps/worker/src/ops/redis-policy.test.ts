import { evictionPolicyProblem } from "./redis-policy";
import { retryReason } from "./worker-metrics";

it("accepts only noeviction, and says so when the policy cannot be read", () => {
  expect(evictionPolicyProblem("noeviction")).toBeUndefined();
  for (const policy of ["allkeys-lru", "volatile-lru", "allkeys-random", "volatile-ttl"]) expect(evictionPolicyProblem(policy)).toMatch(/not noeviction/);
  expect(evictionPolicyProblem(undefined)).toMatch(/could not read/);
});

it("labels transient retries by their SQLSTATE", () => {
  expect(retryReason(Object.assign(new Error("deadlock detected"), { code: "40P01" }))).toBe("deadlock");
  expect(retryReason(Object.assign(new Error("could not obtain lock"), { code: "55P03" }))).toBe("lock_not_available");
  expect(retryReason(Object.assign(new Error("terminating connection"), { code: "57P01" }))).toBe("connection");
  expect(retryReason(new Error("Connection terminated unexpectedly"))).toBe("connection");
});
