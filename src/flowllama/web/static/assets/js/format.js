// How numbers, money, sizes and times read in the UI.

/** @typedef {number | null | undefined} MaybeNumber */

/**
 * @param {MaybeNumber} value
 * @param {number} [digits]
 */
export function usd(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  const small = Math.abs(value) > 0 && Math.abs(value) < 0.01;
  return "$" + Number(value).toFixed(small ? 4 : digits);
}

/** @param {MaybeNumber} bytes */
export function gb(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes < 1e9) return (bytes / 1e6).toFixed(1) + " MB";
  return (bytes / 1e9).toFixed(1) + " GB";
}

/** @param {MaybeNumber} n */
export function count(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

/** @param {number} n */
export function tokensShort(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return String(n);
}

/** @param {string | null | undefined} iso */
export function when(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** @param {number} tokens */
export function contextLabel(tokens) {
  return tokens >= 1024 ? `${Math.round(tokens / 1024)}k` : String(tokens);
}
