// Light, dark, or the system's (prefers-color-scheme); the choice is kept per browser and
// set as data-theme on <html>, which the stylesheet's colour variables follow.

import { useCallback, useEffect, useState } from "react";

export type ThemeChoice = "system" | "light" | "dark";

const THEME_KEY = "advisor-chat.theme";

function stored(): ThemeChoice {
  const value = localStorage.getItem(THEME_KEY);
  return value === "light" || value === "dark" ? value : "system";
}

function systemDark(): boolean {
  return window.matchMedia("(prefers-color-scheme: dark)").matches;
}

export function applyStoredTheme(): void {
  apply(stored());
}

function apply(choice: ThemeChoice): void {
  const dark = choice === "dark" || (choice === "system" && systemDark());
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

export function useTheme(): { dark: boolean; toggle: () => void } {
  const [choice, setChoice] = useState<ThemeChoice>(stored);
  const [system, setSystem] = useState(systemDark);
  useEffect(() => {
    const query = window.matchMedia("(prefers-color-scheme: dark)");
    const onChange = () => {
      setSystem(query.matches);
    };
    query.addEventListener("change", onChange);
    return () => {
      query.removeEventListener("change", onChange);
    };
  }, []);
  useEffect(() => {
    apply(choice);
  }, [choice, system]);
  const dark = choice === "dark" || (choice === "system" && system);
  const toggle = useCallback(() => {
    // A toggle away from the system's scheme is kept; back to it follows the system again.
    const next: ThemeChoice = dark === system ? (dark ? "light" : "dark") : "system";
    if (next === "system") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
    setChoice(next);
  }, [dark, system]);
  return { dark, toggle };
}
