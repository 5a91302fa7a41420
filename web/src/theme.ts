import { useEffect, useState } from "preact/hooks";

const listeners = new Set<(t: string) => void>();

export function currentTheme(): string {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

export function setTheme(theme: string): void {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem("runyard.theme", theme);
  } catch {
    // ignore
  }
  listeners.forEach((f) => f(theme));
}

export function useTheme(): string {
  const [theme, set] = useState(currentTheme());
  useEffect(() => {
    listeners.add(set);
    return () => {
      listeners.delete(set);
    };
  }, []);
  return theme;
}

/** A value kept in localStorage (JSON), per key. */
export function usePersistent<T>(key: string, initial: T): [T, (v: T) => void] {
  const read = (): T => {
    try {
      const text = localStorage.getItem(key);
      return text ? { ...initialObject(initial), ...JSON.parse(text) } : initial;
    } catch {
      return initial;
    }
  };
  const [value, setValue] = useState<T>(read);
  const [loadedKey, setLoadedKey] = useState(key);
  if (loadedKey !== key) {
    setLoadedKey(key);
    setValue(read());
  }
  const set = (v: T) => {
    setValue(v);
    try {
      localStorage.setItem(key, JSON.stringify(v));
    } catch {
      // ignore
    }
  };
  return [value, set];
}

function initialObject<T>(v: T): object {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as object) : {};
}
