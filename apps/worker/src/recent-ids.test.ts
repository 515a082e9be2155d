import { RecentIds } from "./recent-ids";

it("remembers the latest ids up to its capacity, forgetting the oldest first", () => {
  const recent = new RecentIds(3);
  for (const id of ["a", "b", "c", "d"]) recent.add(id);
  expect(["a", "b", "c", "d"].map((id) => recent.has(id))).toEqual([false, true, true, true]);
});
