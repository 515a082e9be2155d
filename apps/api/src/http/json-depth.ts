import { DomainError } from "@settle/core";

/** Refuses JSON nested deeper than `max` (no request schema nests past 2; deep input only costs). */
export function assertJsonDepth(value: unknown, max: number, depth = 0): void {
  if (value === null || typeof value !== "object") return;
  if (depth >= max) throw new DomainError("invalid_request", `JSON nested deeper than ${max} levels`);
  for (const child of Object.values(value)) assertJsonDepth(child, max, depth + 1);
}
