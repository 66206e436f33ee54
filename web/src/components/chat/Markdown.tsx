// Messages' markdown, loaded on first use: the renderer is the largest part of the
// bundle, and the sign-in pages never need it. Until it arrives the text shows as typed;
// if it cannot be loaded (the network dropped), it stays so until the page is reloaded,
// instead of the failed load taking the conversation down.

import { lazy, Suspense } from "react";

function PlainText({ text }: { text: string }) {
  return <div className="markdown plain-text">{text}</div>;
}

const MarkdownView = lazy(() => import("./MarkdownView").catch(() => ({ default: PlainText })));

export function Markdown({ text }: { text: string }) {
  return (
    <Suspense fallback={<PlainText text={text} />}>
      <MarkdownView text={text} />
    </Suspense>
  );
}
