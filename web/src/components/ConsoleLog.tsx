// A run's console output with ANSI colours, tailed live while the run is running.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { parseAnsi, type AnsiStyle } from "../lib/ansi";

const PAGE = 5000;
const TAIL_MS = 2000;
const MAX_LINES = 100_000;
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s?/;
const STREAM = /^(ERROR) /;

interface Line {
  no: number;
  stamp: string;
  stderr: boolean;
  text: string;
}

function split(no: number, content: string): Line {
  let text = content;
  let stderr = false;
  const s = STREAM.exec(text);
  if (s) {
    stderr = true;
    text = text.slice(s[0].length);
  }
  const m = STAMP.exec(text);
  const stamp = m ? m[1] : "";
  if (m) text = text.slice(m[0].length);
  return { no, stamp, stderr, text };
}

function styleOf(s: AnsiStyle): Record<string, string> {
  const out: Record<string, string> = {};
  if (s.fg) out.color = s.fg;
  if (s.bg) out.background = s.bg;
  if (s.bold) out.fontWeight = "bold";
  if (s.dim) out.opacity = "0.7";
  if (s.italic) out.fontStyle = "italic";
  if (s.underline) out.textDecoration = "underline";
  return out;
}

export function ConsoleLog(props: { entity: string; project: string; run: string; running: boolean }) {
  const [lines, setLines] = useState<Map<number, Line>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [follow, setFollow] = useState(true);
  const [stamps, setStamps] = useState(false);
  const [find, setFind] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const next = useRef(0);
  const running = useRef(props.running);
  running.current = props.running;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function load() {
      try {
        // Re-read from the last line: a progress bar may have rewritten it.
        for (;;) {
          const from = Math.max(0, next.current - 1);
          const page = await api.logs(props.entity, props.project, props.run, from, PAGE);
          if (stopped) return;
          if (page.lines.length) {
            setLines((old) => {
              const m = new Map(old);
              for (const l of page.lines) m.set(l.line_no, split(l.line_no, l.content));
              if (m.size > MAX_LINES) {
                const drop = [...m.keys()].sort((a, b) => a - b).slice(0, m.size - MAX_LINES);
                drop.forEach((k) => m.delete(k));
              }
              return m;
            });
            next.current = Math.max(next.current, page.lines[page.lines.length - 1].line_no + 1);
          }
          if (page.next_offset == null) break;
        }
        setError(null);
      } catch (e) {
        if (!stopped) setError(e instanceof ApiError ? e.message : String(e));
      }
      if (stopped) return;
      setLoaded(true);
      if (running.current) timer = setTimeout(load, TAIL_MS);
    }
    load();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [props.entity, props.project, props.run, props.running]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);

  const sorted = [...lines.values()].sort((a, b) => a.no - b.no);
  const needle = find.trim().toLowerCase();
  const shown = needle ? sorted.filter((l) => l.text.toLowerCase().includes(needle)) : sorted;
  let style: AnsiStyle = {};
  return (
    <div class="console-wrap">
      <div class="toolbar">
        <label for="log-find" class="visually-hidden">
          Find in log
        </label>
        <input id="log-find" type="search" placeholder="Find in log" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} />
          Follow
        </label>
        <label class="check">
          <input type="checkbox" checked={stamps} onChange={(e) => setStamps((e.target as HTMLInputElement).checked)} />
          Timestamps
        </label>
        <span class="muted small" data-testid="log-count">
          {sorted.length} line{sorted.length === 1 ? "" : "s"}
          {props.running && " · live"}
        </span>
      </div>
      {error && (
        <div class="alert" role="alert">
          {error}
        </div>
      )}
      <div
        class="console"
        ref={box}
        data-testid="console"
        tabIndex={0}
        aria-label="Console output"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
          if (atBottom !== follow) setFollow(atBottom);
        }}
      >
        {loaded && sorted.length === 0 && <div class="muted">No console output.</div>}
        {shown.map((l) => {
          const parsed = parseAnsi(l.text, style);
          if (!needle) style = parsed.style;
          return (
            <div class={`log-line${l.stderr ? " stderr" : ""}`} key={l.no} data-line={l.no}>
              <span class="log-no">{l.no + 1}</span>
              {stamps && <span class="log-stamp">{l.stamp}</span>}
              <span class="log-text">
                {parsed.spans.map((s, i) => (
                  <span key={i} style={styleOf(s.style)}>
                    {s.text}
                  </span>
                ))}
              </span>
            </div>
          );
        })}
      </div>
    </div>
  );
}
