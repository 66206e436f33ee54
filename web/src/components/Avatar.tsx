// An advisor's picture, or their initials. Only https: and data:image URLs are shown: a
// user-supplied URL never becomes anything but an <img> source.

type Props = { name: string; imageUrl?: string | undefined; size?: number };

function safeImage(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  return url.startsWith("https://") || url.startsWith("data:image/") ? url : undefined;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((part) => (part ?? "").charAt(0).toUpperCase()).join("") || "?";
}

export function Avatar({ name, imageUrl, size = 36 }: Props) {
  const src = safeImage(imageUrl);
  const style = { width: size, height: size, fontSize: size * 0.4 };
  if (src !== undefined) {
    return <img className="avatar" src={src} alt="" style={style} referrerPolicy="no-referrer" />;
  }
  return (
    <span className="avatar avatar-initials" style={style} aria-hidden>
      {initials(name)}
    </span>
  );
}
