// A stacked bar chart drawn as inline SVG (no chart library): one bar per day, one colour per
// series. Every bar segment has a <title>, so hovering or a screen reader tells its numbers.
import { h } from "./dom.js";
import { tokensShort } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = [
  "#1f4fd1",
  "#d97706",
  "#059669",
  "#dc2626",
  "#7c3aed",
  "#0891b2",
  "#be185d",
  "#4d7c0f",
];

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {string | null} [text]
 */
function s(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * `days`: ISO dates; `series`: [{label, values: number per day}]; `width`: the drawing's width
 * in CSS pixels (the space it gets, so its text stays readable on a phone). Returns a figure
 * with the chart, its legend and a caption.
 */
/**
 * @param {string[]} days
 * @param {{label: string, values: number[]}[]} series
 * @param {string} caption
 * @param {number} [width]
 */
export function stackedBars(days, series, caption, width = 720) {
  const height = 260,
    left = 48,
    bottom = 28,
    top = 10;
  const totals = days.map((_, i) => series.reduce((sum, one) => sum + one.values[i], 0));
  const max = Math.max(1, ...totals);
  const band = (width - left) / Math.max(1, days.length);
  /** @param {number} v */
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": caption });
  for (const fraction of [0, 0.5, 1]) {
    svg.append(
      s("line", {
        x1: left,
        x2: width,
        y1: y(max * fraction),
        y2: y(max * fraction),
        stroke: "#d5dae3",
      }),
      s(
        "text",
        {
          x: left - 6,
          y: y(max * fraction) + 4,
          "text-anchor": "end",
          "font-size": 11,
          fill: "#4a5568",
        },
        tokensShort(Math.round(max * fraction)),
      ),
    );
  }
  days.forEach((day, i) => {
    let base = 0;
    const x = left + i * band + band * 0.15;
    series.forEach((one, k) => {
      const value = one.values[i];
      if (!value) return;
      const rect = s("rect", {
        x,
        width: band * 0.7,
        y: y(base + value),
        height: y(base) - y(base + value),
        fill: PALETTE[k % PALETTE.length],
      });
      rect.append(s("title", {}, `${day} · ${one.label}: ${value.toLocaleString("en-US")} tokens`));
      svg.append(rect);
      base += value;
    });
    const labels = Math.max(2, Math.floor(width / 48)); // day labels that fit side by side
    if (i % Math.ceil(days.length / labels) === 0) {
      svg.append(
        s(
          "text",
          {
            x: x + band * 0.35,
            y: height - 10,
            "text-anchor": "middle",
            "font-size": 11,
            fill: "#4a5568",
          },
          day.slice(5),
        ),
      );
    }
  });
  const legend = h(
    "div",
    { class: "legend" },
    series.map((one, k) =>
      h(
        "span",
        {},
        h("span", { class: "swatch", style: `background:${PALETTE[k % PALETTE.length]}` }),
        one.label,
      ),
    ),
  );
  return h(
    "figure",
    { class: "chart", style: "margin:0" },
    svg,
    legend,
    h("figcaption", { class: "small muted" }, caption),
  );
}
