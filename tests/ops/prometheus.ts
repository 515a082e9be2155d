// Reads Prometheus text exposition into "name{label="value",...}" → number, for assertions.
export type Samples = Map<string, number>;

export async function scrape(url: string): Promise<Samples> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape ${url}: ${res.status}`);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples: Samples = new Map();
  for (const line of (await res.text()).split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The value of one series; labels in any order. 0 when the series does not exist yet. */
export function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, v] of samples) {
    const brace = key.indexOf("{");
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const have = brace < 0 ? [] : key.slice(brace + 1, -1).split(/,(?=[a-z_]+=")/);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return v;
  }
  return 0;
}

/** Every series of a metric, as label sets. */
export function series(samples: Samples, name: string): string[] {
  return [...samples.keys()].filter((k) => k === name || k.startsWith(`${name}{`));
}
