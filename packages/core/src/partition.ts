import { createHash } from "node:crypto";

/** The partition (0..partitions-1) that serialises every operation able to decrease this account's funds. */
export function partitionFor(accountId: string, partitions: number): number {
  // A cryptographic digest spreads client-chosen and time-ordered (v7) ids alike.
  const digest = createHash("sha256").update(accountId.toLowerCase()).digest();
  return digest.readUInt32BE(0) % partitions;
}
