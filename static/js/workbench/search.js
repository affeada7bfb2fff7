// Instant search over the dataset's whole vocabulary (name, synonyms, key), entirely in the browser.
import { el } from "./api.js";

const RESULTS = 8;

function normalise(text) {
  return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}

// 0 exact name · 1 name prefix · 2 synonym or key prefix · 3 a word's prefix · 4 anywhere · -1 no match
function rank(entry, q) {
  if (entry.n === q) return 0;
  if (entry.n.startsWith(q)) return 1;
  if (entry.terms.some((t) => t.startsWith(q))) return 2;
  if (entry.terms.some((t) => t.split(/[\s,'-]+/).some((w) => w.startsWith(q)))) return 3;
  if (entry.terms.some((t) => t.includes(q))) return 4;
  return -1;
}

// Wire the search box: arrow keys move, Enter adds (or, in an empty box, calls onEmptyEnter), Esc leaves.
export function vocabularySearch({ input, list, onPick, onEmptyEnter }) {
  let vocabulary = [];
  const byId = new Map();
  let results = [];
  let highlighted = -1;

  function search(query) {
    const q = normalise(query.trim());
    if (!q) return [];
    const scored = [];
    for (const entry of vocabulary) {
      const score = rank(entry, q);
      if (score >= 0) scored.push([score, entry.name.length, entry]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return scored.slice(0, RESULTS).map((s) => s[2]);
  }

  function render() {
    list.hidden = results.length === 0 && !input.value.trim();
    if (!results.length) {
      list.replaceChildren(el("li", { class: "wb-noresult", text: input.value.trim() ? "No class matches." : "" }));
      return;
    }
    list.replaceChildren(
      ...results.map((entry, i) => {
        const item = el(
          "li",
          { role: "option", "aria-selected": String(i === highlighted), id: `wb-result-${i}` },
          el("strong", { text: entry.name }),
          el("span", { class: "wb-result-key", text: entry.key }),
          entry.synonyms.length ? el("span", { class: "wb-synonyms", text: entry.synonyms.join(", ") }) : null,
        );
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pick(i);
        });
        return item;
      }),
    );
    input.setAttribute("aria-activedescendant", highlighted >= 0 ? `wb-result-${highlighted}` : "");
    place();
  }

  // Open towards the larger free space, never past the viewport (the page itself never scrolls).
  function place() {
    const box = input.getBoundingClientRect();
    const below = innerHeight - box.bottom - 12;
    const above = box.top - 12;
    const down = below >= 260 || below >= above;
    list.classList.toggle("wb-up", !down);
    list.style.maxHeight = `${Math.max(120, Math.min(440, down ? below : above))}px`;
  }

  function pick(index) {
    const entry = results[index];
    if (!entry) return;
    onPick(entry.id);
    input.value = "";
    results = [];
    highlighted = -1;
    render();
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!results.length) return;
      highlighted = (highlighted + (event.key === "ArrowDown" ? 1 : results.length - 1)) % results.length;
      render();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (results.length) pick(Math.max(highlighted, 0));
      else if (!input.value.trim()) {
        input.blur();
        onEmptyEnter();
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      input.value = "";
      results = [];
      render();
      input.blur();
    }
  });
  input.addEventListener("input", () => {
    results = search(input.value);
    highlighted = results.length ? 0 : -1;
    render();
  });
  input.addEventListener("blur", () => (list.hidden = true));
  input.addEventListener("focus", render);

  return {
    setVocabulary(entries) {
      vocabulary = entries.map((e) => ({ ...e, n: normalise(e.name), terms: [e.name, ...e.synonyms, e.key].map(normalise) }));
      byId.clear();
      for (const entry of entries) byId.set(entry.id, entry);
    },
    entry: (id) => byId.get(id),
  };
}
