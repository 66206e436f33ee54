// A part of the marketplace whose query failed says so in words, and "Try again"
// renders it afresh, which subscribes to its query again.

import { Component } from "react";
import type { ReactNode } from "react";
import { ErrorNote } from "../ErrorNote";

type State = { error: unknown; attempt: number };

export class Retryable extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null, attempt: 0 };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === null) {
      return <div key={this.state.attempt}>{this.props.children}</div>;
    }
    return (
      <ErrorNote
        error={this.state.error}
        onRetry={() => { this.setState({ error: null, attempt: this.state.attempt + 1 }); }}
      />
    );
  }
}
