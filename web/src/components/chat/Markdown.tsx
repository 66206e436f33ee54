// Messages' markdown, loaded on first use: the renderer is the largest part of the
// bundle, and the sign-in pages never need it. Until it arrives the text shows as typed.

import { lazy, Suspense } from "react";

const MarkdownView = lazy(() => import("./MarkdownView"));

export function Markdown({ text }: { text: string }) {
  return (
    <Suspense fallback={<div className="markdown plain-text">{text}</div>}>
      <MarkdownView text={text} />
    </Suspense>
  );
}
