// A part of a view whose query fails (a deleted conversation: NOT_FOUND) shows the
// failure in words, or a fallback, instead of taking the page down.

import { Component } from "react";
import type { ReactNode } from "react";
import { ErrorNote } from "./ErrorNote";

type Props = { children: ReactNode; fallback?: ReactNode | ((error: unknown) => ReactNode) };

export class Failsafe extends Component<Props, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    const { fallback } = this.props;
    if (typeof fallback === "function") return fallback(this.state.error);
    return fallback ?? <ErrorNote error={this.state.error} />;
  }
}
