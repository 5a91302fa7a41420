// JSON as the server writes it: values are returned exactly as logged, so NaN, Infinity and
// -Infinity may appear as bare tokens (Python's json extension). JSON.parse refuses them.

const NAN = "\u0000NaN";
const POS = "\u0000Infinity";
const NEG = "\u0000-Infinity";

/** Parse JSON that may hold bare NaN / Infinity / -Infinity tokens outside strings. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // fall through: replace the non-standard tokens, then parse again
  }
  let out = "";
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith("NaN", i)) {
      out += JSON.stringify(NAN);
      i += 3;
    } else if (text.startsWith("-Infinity", i)) {
      out += JSON.stringify(NEG);
      i += 9;
    } else if (text.startsWith("Infinity", i)) {
      out += JSON.stringify(POS);
      i += 8;
    } else {
      out += c;
      i += 1;
    }
  }
  return JSON.parse(out, (_k, v) =>
    v === NAN ? NaN : v === POS ? Infinity : v === NEG ? -Infinity : v,
  );
}

/** A number from a value the API sends: numbers, or "NaN"/"Infinity" strings. */
export function toNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity" || v === "inf") return Infinity;
  if (v === "-Infinity" || v === "-inf") return -Infinity;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}
