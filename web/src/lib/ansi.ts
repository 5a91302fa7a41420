// ANSI SGR escape codes (colours, bold, italic, underline) to styled spans. Other escape
// sequences (cursor movement, erase line) are dropped.

export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

export interface AnsiSpan {
  text: string;
  style: AnsiStyle;
}

const BASIC = ["#000000", "#cd3131", "#0dbc79", "#c4a000", "#2472c8", "#bc3fbc", "#11a8cd", "#bfbfbf"];
const BRIGHT = ["#666666", "#f14c4c", "#23d18b", "#e5e510", "#3b8eea", "#d670d6", "#29b8db", "#ffffff"];

function color256(n: number): string | undefined {
  if (n < 0 || n > 255) return undefined;
  if (n < 8) return BASIC[n];
  if (n < 16) return BRIGHT[n - 8];
  if (n < 232) {
    const v = n - 16;
    const level = (c: number) => (c === 0 ? 0 : 55 + c * 40);
    const r = level(Math.floor(v / 36));
    const g = level(Math.floor(v / 6) % 6);
    const b = level(v % 6);
    return `rgb(${r},${g},${b})`;
  }
  const gray = 8 + (n - 232) * 10;
  return `rgb(${gray},${gray},${gray})`;
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b\[([0-9;:]*)([A-Za-z])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[()][A-Za-z0-9]|\u001b[=>NOM78c]/g;

export function parseAnsi(line: string, start: AnsiStyle = {}): { spans: AnsiSpan[]; style: AnsiStyle } {
  const spans: AnsiSpan[] = [];
  let style: AnsiStyle = { ...start };
  let last = 0;
  ESCAPE.lastIndex = 0;
  let match: RegExpExecArray | null;
  const push = (text: string) => {
    if (text) spans.push({ text, style: { ...style } });
  };
  while ((match = ESCAPE.exec(line)) !== null) {
    push(line.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] !== "m") continue;
    const codes = (match[1] || "0").split(/[;:]/).map((c) => (c === "" ? 0 : Number(c)));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) style = {};
      else if (c === 1) style.bold = true;
      else if (c === 2) style.dim = true;
      else if (c === 3) style.italic = true;
      else if (c === 4) style.underline = true;
      else if (c === 22) style.bold = style.dim = false;
      else if (c === 23) style.italic = false;
      else if (c === 24) style.underline = false;
      else if (c >= 30 && c <= 37) style.fg = BASIC[c - 30];
      else if (c === 39) style.fg = undefined;
      else if (c >= 40 && c <= 47) style.bg = BASIC[c - 40];
      else if (c === 49) style.bg = undefined;
      else if (c >= 90 && c <= 97) style.fg = BRIGHT[c - 90];
      else if (c >= 100 && c <= 107) style.bg = BRIGHT[c - 100];
      else if (c === 38 || c === 48) {
        let value: string | undefined;
        if (codes[i + 1] === 5) {
          value = color256(codes[i + 2]);
          i += 2;
        } else if (codes[i + 1] === 2) {
          const [r, g, b] = codes.slice(i + 2, i + 5);
          value = `rgb(${r | 0},${g | 0},${b | 0})`;
          i += 4;
        }
        if (c === 38) style.fg = value;
        else style.bg = value;
      }
    }
  }
  push(line.slice(last));
  // Carriage returns (progress bars): what follows the last one is what a terminal shows.
  return { spans: dropOverwritten(spans), style };
}

function dropOverwritten(spans: AnsiSpan[]): AnsiSpan[] {
  let cut = -1;
  for (let i = spans.length - 1; i >= 0 && cut < 0; i--) {
    const at = spans[i].text.lastIndexOf("\r");
    if (at >= 0 && at < spans[i].text.length - 1) cut = i;
    else if (at >= 0) spans[i] = { ...spans[i], text: spans[i].text.slice(0, at) };
  }
  if (cut < 0) return spans.filter((s) => s.text);
  const first = spans[cut];
  return [{ ...first, text: first.text.slice(first.text.lastIndexOf("\r") + 1) }, ...spans.slice(cut + 1)].filter((s) => s.text);
}
