// The outline of a pressure-sensitive freehand stroke as an SVG path, filled rather than
// stroked so its width can follow the pen's pressure (perfect-freehand's idea, small enough to
// write here: smooth the points, offset each side by half the local width, round the ends).
// Points are [x, y, pressure] in the drawing's units; `size` is the full width at pressure 0.5.

function smooth(points, passes = 2) {
  let pts = points;
  for (let pass = 0; pass < passes && pts.length > 2; pass += 1) {
    const out = [pts[0]];
    for (let i = 1; i < pts.length - 1; i += 1) {
      const [a, b, c] = [pts[i - 1], pts[i], pts[i + 1]];
      out.push([(a[0] + 2 * b[0] + c[0]) / 4, (a[1] + 2 * b[1] + c[1]) / 4, (a[2] + 2 * b[2] + c[2]) / 4]);
    }
    out.push(pts[pts.length - 1]);
    pts = out;
  }
  return pts;
}

export function strokeOutline(points, size) {
  const pts = smooth(points.map(([x, y, p = 0.5]) => [x, y, p]));
  const radius = (p) => (size / 2) * (0.35 + 1.3 * Math.min(Math.max(p, 0), 1));
  const left = [], right = [];
  for (let i = 0; i < pts.length; i += 1) {
    const prev = pts[Math.max(i - 1, 0)], next = pts[Math.min(i + 1, pts.length - 1)];
    let dx = next[0] - prev[0], dy = next[1] - prev[1];
    const length = Math.hypot(dx, dy) || 1;
    dx /= length; dy /= length;
    const r = radius(pts[i][2]);
    left.push([pts[i][0] - dy * r, pts[i][1] + dx * r]);
    right.push([pts[i][0] + dy * r, pts[i][1] - dx * r]);
  }
  const f = (v) => +v.toFixed(5);
  const line = (ps) => ps.map(([x, y]) => `L${f(x)},${f(y)}`).join("");
  const r0 = radius(pts[0][2]), r1 = radius(pts[pts.length - 1][2]);
  const endR = right[right.length - 1], startL = left[0];
  return `M${f(left[0][0])},${f(left[0][1])}${line(left.slice(1))}` +
    `A${f(r1)},${f(r1)} 0 0 0 ${f(endR[0])},${f(endR[1])}` +
    `${line(right.slice(0, -1).reverse())}` +
    `A${f(r0)},${f(r0)} 0 0 0 ${f(startL[0])},${f(startL[1])}Z`;
}
