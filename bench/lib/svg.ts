// Charts drawn as standalone SVG strings (no library, no CDN): the HTML report inlines them and
// BENCHMARKS.md links the published files.

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const FONT = `font-family="system-ui, sans-serif"`;
const SMALL = `${FONT} font-size="11"`;
const TITLE = `${FONT} font-size="13" font-weight="600"`;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: Series[]; width?: number; height?: number }): string {
  const width = o.width ?? 640;
  const height = o.height ?? 260;
  const m = { l: 56, r: 12, t: 28, b: 40 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1, ...xs);
  const yMax = niceMax(Math.max(0, ...ys));
  const X = (x: number) => m.l + (x / xMax) * w;
  const Y = (y: number) => m.t + h - (y / yMax) * h;
  const parts: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`, `<text x="${m.l}" y="16" ${TITLE}>${esc(o.title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" ${SMALL} text-anchor="end" fill="#555">${v >= 1000 ? `${round1(v / 1000)}k` : round1(v)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = (xMax * i) / 5;
    parts.push(`<text x="${X(v)}" y="${m.t + h + 14}" ${SMALL} text-anchor="middle" fill="#555">${round1(v)}</text>`);
  }
  parts.push(`<text x="${m.l + w / 2}" y="${height - 6}" ${SMALL} text-anchor="middle" fill="#333">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${m.t + h / 2}) rotate(-90)" ${SMALL} text-anchor="middle" fill="#333">${esc(o.yLabel)}</text>`);
  parts.push(
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" stroke="#999"/><line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#999"/>`,
  );
  let lx = m.l + 8;
  for (const s of o.series) {
    if (s.points.length) {
      const d = s.points.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ""}/>`);
    }
    parts.push(
      `<rect x="${lx}" y="${m.t + 2}" width="10" height="3" fill="${s.color}"/><text x="${lx + 14}" y="${m.t + 7}" ${SMALL} fill="#333">${esc(s.name)}</text>`,
    );
    lx += 20 + s.name.length * 6.2;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

export function barChart(o: { title: string; unit: string; bars: { label: string; value: number; color: string; note?: string }[]; width?: number }): string {
  const width = o.width ?? 640;
  const rowH = 22;
  const m = { l: 270, r: 190, t: 30, b: 10 };
  const height = m.t + m.b + rowH * o.bars.length;
  const max = niceMax(Math.max(1, ...o.bars.map((b) => b.value)));
  const w = width - m.l - m.r;
  const parts: string[] = [`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`, `<text x="8" y="18" ${TITLE}>${esc(o.title)}</text>`];
  o.bars.forEach((b, i) => {
    const y = m.t + i * rowH;
    const bw = Math.max(1, (b.value / max) * w);
    parts.push(`<text x="${m.l - 6}" y="${y + 14}" ${SMALL} text-anchor="end" fill="#333">${esc(b.label)}</text>`);
    parts.push(`<rect x="${m.l}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 7}" fill="${b.color}"/>`);
    parts.push(`<text x="${m.l + bw + 4}" y="${y + 14}" ${SMALL} fill="#333">${esc(`${round1(b.value)} ${o.unit}${b.note ? ` ${b.note}` : ""}`)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

function round1(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}
