// The line that says what the last review decision saved. The review screen opens the next image (or the
// queue) right after a decision, so the line is kept in sessionStorage for the page that opens next.
import { el } from "./workbench/api.js";

const KEY = "relabel.review.saved";

export function rememberSaved(text, href) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ text, href }));
  } catch {
    // Storage refused (private mode, quota): the decision is saved all the same; only the line is lost.
  }
}

export function showSaved(line) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
  } catch {
    saved = null;
  }
  if (!line || !saved?.text) return;
  line.replaceChildren(
    el("span", { class: "rv-saved-mark", text: "✓" }),
    el("span", { text: ` ${saved.text} ` }),
    saved.href ? el("a", { href: saved.href, text: "open it again" }) : null,
  );
  line.hidden = false;
}
