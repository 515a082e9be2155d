/**
 * The ids of operations this worker settled lately, bounded (oldest forgotten first). A settled
 * payment never becomes pending again, so a job whose id is here has nothing left to do: after a
 * batch settles many payments at once, their own jobs are skipped without a database round trip.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
