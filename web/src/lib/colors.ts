// Stable run colours: a run's colour comes from its id alone, so it is the same on every
// page, in every order and after reloads.

export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
  "#bcbd22", "#3949ab", "#00897b", "#c2185b", "#5d4037", "#7cb342", "#0277bd", "#f4511e",
  "#6a1b9a", "#00acc1", "#546e7a", "#827717",
];

/** FNV-1a hash of a string. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function runColor(id: string): string {
  return PALETTE[hash(id) % PALETTE.length];
}

/** The colour with an alpha, for bands and faded raw lines. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/**
 * Colours for the runs shown together: each run gets its own colour (runColor) unless
 * another run of the set already has it; then the next free colour of the palette, taking
 * runs in id order, so the result depends only on the set, never on the order shown.
 */
export function assignColors(ids: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<number>();
  for (const id of [...new Set(ids)].sort()) {
    const preferred = hash(id) % PALETTE.length;
    let slot = preferred;
    for (let k = 0; k < PALETTE.length && taken.has(slot); k++) slot = (preferred + k + 1) % PALETTE.length;
    if (taken.has(slot)) slot = preferred;
    taken.add(slot);
    out.set(id, PALETTE[slot]);
  }
  return out;
}
