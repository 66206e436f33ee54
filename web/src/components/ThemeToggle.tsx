import { Moon, Sun } from "lucide-react";
import { useTheme } from "../lib/theme";

export function ThemeToggle() {
  const { dark, toggle } = useTheme();
  const label = dark ? "Switch to light theme" : "Switch to dark theme";
  return (
    <button type="button" className="icon-button" onClick={toggle} aria-label={label} title={label}>
      {dark ? <Sun aria-hidden size={18} /> : <Moon aria-hidden size={18} />}
    </button>
  );
}
