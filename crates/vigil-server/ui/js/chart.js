// Small SVG charts drawn by hand: a line chart with area, and a bar chart, over [{time, value}].

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function label(t, hours) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const hh = String(d.getUTCHours()).padStart(2, '0');
  return hours ? `${hh}:00` : `${hh}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

function niceMax(max) {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= max);
}

/**
 * A chart of `points` ([{time, value}]) as an SVG element; `kind` is 'line' or 'bar';
 * `hours` labels the x axis by hour.
 */
export function chart(points, { kind = 'line', hours = false, unit = '' } = {}) {
  const W = 640;
  const H = 200;
  const L = 44;
  const B = 24;
  const T = 10;
  const R = 10;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' });
  const values = points.map((p) => Number(p.value) || 0);
  const max = niceMax(Math.max(0, ...values));
  const x = (i) => L + (points.length <= 1 ? 0 : (i * (W - L - R)) / (points.length - 1));
  const y = (v) => H - B - (v / max) * (H - B - T);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid-line' }));
    root.append(svg('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, `${+v.toFixed(2)}`));
  }
  if (!points.length) {
    root.append(svg('text', { x: W / 2, y: H / 2, class: 'axis', 'text-anchor': 'middle' }, 'no data yet'));
    return root;
  }
  const step = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % step === 0) root.append(svg('text', { x: x(i), y: H - 6, class: 'axis', 'text-anchor': 'middle' }, label(p.time, hours)));
  });
  if (kind === 'bar') {
    const w = Math.max(2, ((W - L - R) / points.length) * 0.7);
    points.forEach((p, i) => {
      const v = values[i];
      const bar = svg('rect', { x: x(i) - w / 2, y: y(v), width: w, height: Math.max(0, H - B - y(v)), class: 'bar' });
      bar.append(svg('title', {}, `${label(p.time, hours)}: ${v}${unit}`));
      root.append(bar);
    });
  } else {
    const line = values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    root.append(svg('path', { d: `${line} L${x(points.length - 1)},${H - B} L${L},${H - B} Z`, class: 'area' }));
    root.append(svg('path', { d: line, class: 'line' }));
    const last = values.length - 1;
    const dot = svg('circle', { cx: x(last), cy: y(values[last]), r: 3.5, class: 'dot' });
    dot.append(svg('title', {}, `${label(points[last].time, hours)}: ${values[last]}${unit}`));
    root.append(dot);
  }
  return root;
}
