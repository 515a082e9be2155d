import { randomFillSync } from "node:crypto";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in canonical 8-4-4-4-12 form, any version. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_PATTERN.test(value);
}

// Random bytes drawn from the system's CSPRNG a few KiB at a time: one call per 256 ids instead of
// one per id (two ids per accepted payment; each call is a system call).
const randomPool = {
  buffer: Buffer.alloc(4096),
  offset: 4096,
  take(into: Buffer): void {
    if (this.offset + into.length > this.buffer.length) {
      randomFillSync(this.buffer);
      this.offset = 0;
    }
    this.buffer.copy(into, 0, this.offset, this.offset + into.length);
    this.offset += into.length;
  },
};

/** A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by creation time. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = Buffer.allocUnsafe(16);
  randomPool.take(bytes);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
