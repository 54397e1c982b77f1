// Charts drawn as SVG (no libraries): bars, a line, and price candles. Each has a <title> and an
// aria-label so a screen reader gets the gist, and a table elsewhere on the page has the numbers.
const NS = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(label, w, hgt) {
  const svg = svgEl('svg', { viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': label, class: 'chart' });
  svg.append(svgEl('title', {}, label));
  return svg;
}

function axis(svg, w, hgt, pad, max, fmt) {
  svg.append(svgEl('line', { x1: pad, y1: hgt - pad, x2: w - 4, y2: hgt - pad, class: 'axis' }));
  svg.append(svgEl('text', { x: 2, y: pad, class: 'tick' }, fmt(max)));
  svg.append(svgEl('text', { x: 2, y: hgt - pad, class: 'tick' }, fmt(0)));
}

/** Bars: points = [{label, value}] oldest first. */
export function barChart(label, points, w = 600, hgt = 160) {
  const svg = frame(label, w, hgt);
  const pad = 22;
  const max = Math.max(1, ...points.map(p => p.value));
  axis(svg, w, hgt, pad, max, v => String(v));
  const bw = (w - pad - 8) / Math.max(points.length, 1);
  points.forEach((p, i) => {
    const bh = ((hgt - 2 * pad) * p.value) / max;
    const r = svgEl('rect', { x: pad + 2 + i * bw, y: hgt - pad - bh, width: Math.max(bw - 2, 1), height: bh, class: 'bar' });
    r.append(svgEl('title', {}, `${p.label}: ${p.value}`));
    svg.append(r);
  });
  return svg;
}

/** A line: points = [{label, value}] oldest first. */
export function lineChart(label, points, w = 600, hgt = 160) {
  const svg = frame(label, w, hgt);
  const pad = 22;
  const max = Math.max(1, ...points.map(p => p.value));
  axis(svg, w, hgt, pad, max, v => String(Math.round(v * 100) / 100));
  const step = (w - pad - 8) / Math.max(points.length - 1, 1);
  const xy = points.map((p, i) => `${pad + 2 + i * step},${hgt - pad - ((hgt - 2 * pad) * p.value) / max}`);
  if (xy.length) svg.append(svgEl('polyline', { points: xy.join(' '), class: 'line' }));
  return svg;
}

/** Candles: rows = [{open_time, open, high, low, close}] (strings) oldest first. */
export function candleChart(label, rows, w = 640, hgt = 220) {
  const svg = frame(label, w, hgt);
  const pad = 26;
  const num = rows.map(r => ({ t: r.open_time, o: +r.open, hi: +r.high, lo: +r.low, c: +r.close }));
  if (!num.length) return svg;
  let lo = Math.min(...num.map(r => r.lo));
  let hi = Math.max(...num.map(r => r.hi));
  if (hi === lo) {
    hi += hi * 0.01 || 1;
    lo -= lo * 0.01 || 0;
  }
  const y = v => pad + ((hgt - 2 * pad) * (hi - v)) / (hi - lo);
  svg.append(svgEl('text', { x: 2, y: pad, class: 'tick' }, String(hi)));
  svg.append(svgEl('text', { x: 2, y: hgt - pad, class: 'tick' }, String(lo)));
  const cw = (w - 70) / Math.max(num.length, 1);
  num.forEach((r, i) => {
    const x = 64 + i * cw + cw / 2;
    const up = r.c >= r.o;
    const g = svgEl('g', { class: up ? 'candle up' : 'candle down' });
    g.append(svgEl('title', {}, `${r.t}: open ${r.o} high ${r.hi} low ${r.lo} close ${r.c}`));
    g.append(svgEl('line', { x1: x, x2: x, y1: y(r.hi), y2: y(r.lo) }));
    const top = y(Math.max(r.o, r.c));
    g.append(svgEl('rect', { x: x - Math.max(cw * 0.35, 1), y: top, width: Math.max(cw * 0.7, 2), height: Math.max(y(Math.min(r.o, r.c)) - top, 1) }));
    svg.append(g);
  });
  return svg;
}
