// Markdown as text and elements only: raw HTML in a message is never rendered (no
// rehype-raw), link and image URLs pass react-markdown's default filter (no javascript:),
// and links open elsewhere without the page's referrer or opener.

import ReactMarkdown from "react-markdown";
import type { Components } from "react-markdown";

const components: Components = {
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
};

export default function MarkdownView({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown skipHtml components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
