// The review screen: one plain module on the review API (see README, "Review and adjudication").
// Keyboard first: number keys toggle classes, B/A/M/R choose another decision, Enter carries it out and
// opens the next image of the queue; J/K (or arrows) move through the queue without deciding.
// A decision never lands on an image the reviewer has not seen: decision keys and Save do nothing until the
// image has been on screen for ARM_MS, and Enter in the note field only leaves it (Ctrl+Enter saves).

import { rememberSaved, showSaved } from "./review_saved.js";
import { apiClient, el, uuid4 } from "./workbench/api.js";
import { vocabularySearch } from "./workbench/search.js";

const ARM_MS = 600;

const root = document.getElementById("review");
const $ = (id) => document.getElementById(id);
const api = apiClient(root.dataset.csrf);
const rows = [...document.querySelectorAll(".rv-class")];

const state = {
  chosen: new Set(rows.filter((r) => r.getAttribute("aria-pressed") === "true").map((r) => Number(r.dataset.class))),
  added: [], // classes found through the search, not listed in the table: {id, name}
  decision: "set", // set | exclude-bad | exclude-ambiguous | more | revert
  busy: false,
  armed: false, // true once the image has been on screen for ARM_MS
  attempt: null, // {body, clientUuid}: pressing Enter again after an error retries with the same UUID
};

const DESCRIPTIONS = {
  "exclude-bad": "mark it a bad image (excluded from metrics and releases)",
  "exclude-ambiguous": "mark it ambiguous (excluded from metrics and releases)",
  more: "ask for one more annotation (it goes to the front of the annotation queue)",
  revert: "revert to the consensus computed from the votes",
};

function nameOf(id) {
  const row = rows.find((r) => Number(r.dataset.class) === id);
  if (row) return row.querySelector(".rv-name").textContent;
  return state.added.find((a) => a.id === id)?.name || `class ${id}`;
}

function render() {
  for (const row of rows) row.setAttribute("aria-pressed", String(state.chosen.has(Number(row.dataset.class))));
  for (const button of document.querySelectorAll("[data-decision]")) {
    button.setAttribute("aria-pressed", String(state.decision === button.dataset.decision));
  }
  const names = [...state.chosen].map(nameOf);
  const text =
    state.decision === "set"
      ? `set the label set to ${names.length ? names.join(" · ") : "∅ (no valid class)"}`
      : DESCRIPTIONS[state.decision];
  $("rv-summary").replaceChildren(el("span", { class: "wb-summary-label", text: "Enter will" }), el("span", { text }));
  $("rv-save").disabled = state.busy || !state.armed;
}

// The image counts as seen ARM_MS after it is displayed (at once when there is no file to show).
function armWhenShown() {
  const arm = () =>
    setTimeout(() => {
      state.armed = true;
      root.dataset.armed = "true";
      render();
    }, ARM_MS);
  const image = $("rv-image");
  if (!image || image.complete) arm();
  else {
    image.addEventListener("load", arm, { once: true });
    image.addEventListener("error", arm, { once: true });
  }
}

// A decision key pressed before the image was seen is dropped, and the reviewer is told why.
function ready() {
  $("rv-wait").textContent = state.armed ? "" : "Ignored: the image had only just appeared. Look, then press again.";
  return state.armed;
}

function savedText(decision, adjudication) {
  const file = $("rv-filename").textContent;
  const names = (adjudication.labels_after || []).map(nameOf);
  const set = names.length ? names.join(" · ") : "∅ (no valid class)";
  const what = {
    set: `label set ${set}`,
    "exclude-bad": "marked a bad image (excluded)",
    "exclude-ambiguous": "marked ambiguous (excluded)",
    revert: `reverted to the votes' consensus: ${set}`,
    more: "one more annotation asked for",
  }[decision];
  return `Saved ${file}: ${what}.`;
}

function toggleClass(id) {
  if (state.busy || !ready()) return;
  if (state.chosen.has(id)) state.chosen.delete(id);
  else state.chosen.add(id);
  state.decision = "set";
  render();
}

function choose(decision) {
  if (state.busy || !document.querySelector(`[data-decision="${decision}"]`) || !ready()) return;
  state.decision = state.decision === decision ? "set" : decision;
  render();
}

function addClass(id) {
  if (!rows.some((r) => Number(r.dataset.class) === id) && !state.added.some((a) => a.id === id)) {
    state.added.push({ id, name: vocabulary.entry(id)?.name || `class ${id}` });
  }
  state.chosen.add(id);
  state.decision = "set";
  render();
}

async function save() {
  if (state.busy || !ready()) return;
  state.busy = true;
  $("rv-error").textContent = "";
  render();
  const note = $("rv-note").value;
  const [url, body] =
    state.decision === "more"
      ? [root.dataset.moreUrl, { extra: 1, note }]
      : [root.dataset.adjudicationsUrl, { action: state.decision, labels: [...state.chosen], note }];
  const key = `${url} ${JSON.stringify(body)}`;
  if (state.attempt?.key !== key) state.attempt = { key, clientUuid: uuid4() };
  try {
    const adjudication = await api("POST", url, { ...body, client_uuid: state.attempt.clientUuid });
    root.dataset.saved = state.decision;
    rememberSaved(savedText(state.decision, adjudication), location.href);
    location.assign(root.dataset.nextUrl || root.dataset.queueUrl);
  } catch (error) {
    state.busy = false;
    $("rv-error").textContent = error.message;
    render();
  }
}

function go(url) {
  if (url && !state.busy) location.assign(url);
}

function onKey(event) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id !== "rv-search") {
    event.preventDefault();
    save();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.id === "rv-search") return;
  if (event.target.id === "rv-note") {
    // Enter only leaves the note (a second Enter then saves, once the reviewer has looked again).
    if (event.key === "Enter" || event.key === "Escape") {
      event.preventDefault();
      event.target.blur();
    }
    return;
  }
  const key = event.key;
  let handled = true;
  if (/^[0-9]$/.test(key)) {
    const row = rows[key === "0" ? 9 : Number(key) - 1];
    if (row) toggleClass(Number(row.dataset.class));
  } else if (key === "Enter") save();
  else if (key === "/") $("rv-search").focus();
  else if (key === "j" || key === "ArrowRight") go(root.dataset.nextUrl);
  else if (key === "k" || key === "ArrowLeft") go(root.dataset.previousUrl);
  else if (key === "n") $("rv-note").focus();
  else if (key === "h") go(document.querySelector(".rv-history-link").href);
  else if (key === "Escape") go(root.dataset.queueUrl);
  else {
    const decision = { b: "exclude-bad", a: "exclude-ambiguous", m: "more", r: "revert" }[key.toLowerCase()];
    if (decision) choose(decision);
    else handled = false;
  }
  if (handled) event.preventDefault();
}

const vocabulary = vocabularySearch({
  input: $("rv-search"),
  list: $("rv-results"),
  onPick: addClass,
  onEmptyEnter: save,
});

for (const row of rows) row.addEventListener("click", () => toggleClass(Number(row.dataset.class)));
for (const button of document.querySelectorAll("[data-decision]")) {
  button.addEventListener("click", () => choose(button.dataset.decision));
}
$("rv-save").addEventListener("click", save);
document.addEventListener("keydown", onKey);
api("GET", root.dataset.vocabularyUrl)
  .then((entries) => vocabulary.setVocabulary(entries))
  .catch((error) => ($("rv-error").textContent = `The class list could not be loaded: ${error.message}`));
showSaved($("rv-saved"));
armWhenShown();
render();
root.dataset.ready = "true";
