// The annotation workbench: one plain module talking to the annotation API (see README, "Annotating").
// Keyboard first, mouse everywhere. The next image is prefetched so it appears as soon as a submit returns.

import { apiClient, el, uuid4 } from "./workbench/api.js";
import { progressPanel } from "./workbench/progress.js";
import { vocabularySearch } from "./workbench/search.js";

const root = document.getElementById("workbench");
const $ = (id) => document.getElementById(id);
const FLAGS = ["none_fits", "unsure", "bad_image"];
const MAX_SECONDS = 3600;
const api = apiClient(root.dataset.csrf);

const urls = {
  next: root.dataset.nextUrl,
  progress: root.dataset.progressUrl,
  vocabulary: root.dataset.vocabularyUrl,
  annotations: root.dataset.annotationsUrl,
  annotation: (id) => `${root.dataset.annotationsUrl}${id}/`,
  skip: (imageId) => `/api/images/${imageId}/skip/`,
};

// ---------- state ----------

const state = {
  view: null, // {item, annotationId|null, chosen:Set, added:[], flags:{}, clientUuid, spentMs, shownAt}
  leased: null, // the view of the image leased to me (kept while I go back to revise)
  prefetch: null, // Promise of the next item (or null when nothing is left)
  history: [], // my annotations, newest first: {id, file_name}
  historyIndex: -1, // -1: the leased image; 0..: revising history[historyIndex]
  busy: false,
  done: false,
};

function viewOf(item, annotation = null) {
  return {
    item,
    annotationId: annotation ? annotation.id : null,
    chosen: new Set(annotation ? annotation.classes : []),
    added: annotation ? annotation.classes.filter((id) => !annotation.shown.includes(id)) : [],
    flags: Object.fromEntries(FLAGS.map((f) => [f, annotation ? annotation[f] : false])),
    clientUuid: uuid4(),
    spentMs: 0,
    shownAt: performance.now(),
  };
}

function elapsedSeconds(view) {
  const ms = view.spentMs + (document.hidden ? 0 : performance.now() - view.shownAt);
  return Math.min(MAX_SECONDS, Math.round(ms) / 1000);
}

document.addEventListener("visibilitychange", () => {
  const view = state.view;
  if (!view) return;
  if (document.hidden) view.spentMs += performance.now() - view.shownAt;
  else view.shownAt = performance.now();
});

// ---------- rendering ----------

function showError(message) {
  $("wb-error").textContent = message || "";
}

function render() {
  const view = state.view;
  renderBanner();
  if (!view) return;
  root.classList.remove("wb-finished");
  const { image, candidates } = view.item;
  const img = $("wb-image");
  if (image.display_url) {
    if (img.getAttribute("src") !== image.display_url) img.src = image.display_url;
    img.hidden = false;
    $("wb-placeholder").hidden = true;
  } else {
    img.hidden = true;
    $("wb-placeholder").hidden = false;
    $("wb-placeholder").textContent = "This image has no file to show.";
  }
  $("wb-filename").textContent = image.file_name;
  $("wb-dims").textContent = image.width ? `${image.width} × ${image.height}` : "";
  $("wb-zoom").disabled = !image.original_url;

  const list = $("wb-candidates");
  list.replaceChildren(
    ...candidates.map((c, i) => {
      const refs = el("span", { class: "wb-refs" }, ...c.references.map((src) => el("img", { src, alt: "", loading: "lazy" })));
      const text = el(
        "span",
        { class: "wb-text" },
        el("strong", { text: c.name }),
        c.synonyms.length ? el("span", { class: "wb-synonyms", text: c.synonyms.join(", ") }) : null,
        c.gloss ? el("span", { class: "wb-gloss", text: c.gloss, title: c.gloss }) : null,
      );
      const button = el(
        "button",
        { type: "button", class: "wb-candidate", "aria-pressed": String(view.chosen.has(c.id)), "data-class": c.id },
        el("kbd", { text: i < 9 ? String(i + 1) : "" }),
        text,
        refs,
      );
      button.addEventListener("click", () => toggleClass(c.id));
      return el("li", {}, button);
    }),
  );
  if (!candidates.length) list.append(el("li", { class: "wb-empty", text: "No candidate classes: search for one, or choose a special answer." }));

  $("wb-added").replaceChildren(
    ...view.added.map((id) => {
      const entry = vocabulary.entry(id);
      const remove = el("button", { type: "button", "aria-label": "Remove", text: "×" });
      remove.addEventListener("click", () => removeAdded(id));
      return el("li", { title: entry?.gloss || "" }, el("span", { text: entry ? entry.name : `class ${id}` }), remove);
    }),
  );
  for (const button of document.querySelectorAll("[data-flag]")) {
    button.setAttribute("aria-pressed", String(view.flags[button.dataset.flag]));
  }
  renderSummary(view);
  $("wb-submit").disabled = state.busy;
  $("wb-skip").disabled = state.busy || view.annotationId !== null;
  $("wb-back").disabled = state.busy || state.historyIndex + 1 >= state.history.length;
  $("wb-submit").firstChild.textContent = view.annotationId ? "Save revision " : "Submit ";
}

function renderSummary(view) {
  const names = new Map(view.item.candidates.map((c) => [c.id, c.name]));
  const chosen = answerOf(view).classes.map((id) => names.get(id) || vocabulary.entry(id)?.name || `class ${id}`);
  const flags = { none_fits: "none fits", unsure: "unsure", bad_image: "bad image" };
  const parts = [...chosen, ...FLAGS.filter((f) => view.flags[f]).map((f) => flags[f])];
  $("wb-summary").replaceChildren(
    el("span", { class: "wb-summary-label", text: "Your answer" }),
    parts.length ? el("span", { text: parts.join(" · ") }) : el("span", { class: "wb-summary-empty", text: "nothing chosen yet" }),
  );
}

function renderBanner() {
  const banner = $("wb-banner");
  if (state.done && state.historyIndex < 0) {
    banner.hidden = false;
    banner.replaceChildren("Nothing is left for you in this dataset — thank you! ", el("a", { href: root.dataset.homeUrl, text: "Back to the datasets" }));
    return;
  }
  if (state.view && state.view.annotationId !== null) {
    banner.hidden = false;
    banner.textContent = `Revising an earlier answer (${state.historyIndex + 1} back). Enter saves it; → goes forward and Esc returns to the current image, without saving.`;
    return;
  }
  banner.hidden = true;
}

function showDone() {
  state.done = true;
  state.view = null;
  root.classList.add("wb-finished");
  $("wb-image").hidden = true;
  $("wb-placeholder").hidden = false;
  $("wb-placeholder").textContent = "All done.";
  $("wb-filename").textContent = "";
  $("wb-dims").textContent = "";
  $("wb-candidates").replaceChildren();
  $("wb-added").replaceChildren();
  $("wb-summary").replaceChildren();
  $("wb-submit").disabled = true;
  $("wb-skip").disabled = true;
  $("wb-back").disabled = state.history.length === 0;
  renderBanner();
}

function preload(item) {
  if (!item) return;
  if (item.image.display_url) new Image().src = item.image.display_url;
  for (const c of item.candidates) for (const src of c.references) new Image().src = src;
}

// ---------- answering ----------

function toggleClass(id) {
  const view = state.view;
  if (!view || state.busy) return;
  if (view.chosen.has(id)) view.chosen.delete(id);
  else view.chosen.add(id);
  view.flags.none_fits = false;
  showError("");
  render();
}

function toggleFlag(flag) {
  const view = state.view;
  if (!view || state.busy) return;
  view.flags[flag] = !view.flags[flag];
  if (flag === "none_fits" && view.flags.none_fits) {
    view.chosen.clear();
    view.added = [];
  }
  showError("");
  render();
}

function addClass(id) {
  const view = state.view;
  if (!view) return;
  const isCandidate = view.item.candidates.some((c) => c.id === id);
  view.chosen.add(id);
  if (!isCandidate && !view.added.includes(id)) view.added.push(id);
  view.flags.none_fits = false;
  render();
}

function removeAdded(id) {
  const view = state.view;
  view.added = view.added.filter((x) => x !== id);
  view.chosen.delete(id);
  render();
}

function answerOf(view) {
  const shown = view.item.candidates.map((c) => c.id).filter((id) => view.chosen.has(id));
  const classes = [...shown, ...view.added.filter((id) => view.chosen.has(id))];
  return { classes, ...view.flags, seconds: elapsedSeconds(view), client_uuid: view.clientUuid };
}

async function submit() {
  const view = state.view;
  if (!view || state.busy) return;
  const answer = answerOf(view);
  if (!answer.classes.length && !FLAGS.some((f) => answer[f])) {
    showError("Choose at least one class, or answer None fits (N), Unsure (U) or Bad image (B).");
    return;
  }
  state.busy = true;
  render();
  try {
    if (view.annotationId !== null) {
      await api("PUT", urls.annotation(view.annotationId), answer);
      state.busy = false;
      progress.revised();
      forward();
    } else {
      const saved = await api("POST", urls.annotations, { image: view.item.image.id, ...answer });
      state.history.unshift({ id: saved.id, file_name: saved.file_name });
      state.busy = false;
      progress.answered();
      await advance();
    }
  } catch (error) {
    state.busy = false;
    if (error.status === 400 && /not leased to you/.test(error.message)) {
      await advance();
      showError(`${error.message} — moved on to the next image.`);
      return;
    }
    showError(error.message);
    render();
  }
}

// Show the prefetched image, then prefetch the one after it.
async function advance() {
  showError("");
  const next = await (state.prefetch || fetchNext([]));
  state.prefetch = null;
  if (!next) {
    state.leased = null;
    showDone();
    return;
  }
  state.leased = state.view = viewOf(next);
  render();
  state.prefetch = fetchNext([next.image.id]);
}

async function fetchNext(exclude) {
  try {
    const item = await api("POST", urls.next, { exclude });
    preload(item);
    return item;
  } catch (error) {
    if (error.status === 409) return null;
    showError(error.message);
    return null;
  }
}

async function skip() {
  const view = state.view;
  if (!view || state.busy || view.annotationId !== null) return;
  state.busy = true;
  render();
  try {
    await api("POST", urls.skip(view.item.image.id));
    state.busy = false;
    await advance();
  } catch (error) {
    state.busy = false;
    showError(error.message);
    render();
  }
}

// ---------- going back to revise ----------

async function back() {
  if (state.busy || state.historyIndex + 1 >= state.history.length) return;
  await openHistory(state.historyIndex + 1);
}

async function forward() {
  if (state.busy || state.historyIndex < 0) return;
  if (state.historyIndex > 0) {
    await openHistory(state.historyIndex - 1);
    return;
  }
  state.historyIndex = -1;
  showError("");
  if (state.leased) {
    state.leased.shownAt = performance.now();
    state.view = state.leased;
    render();
  } else {
    showDone();
  }
}

async function openHistory(index) {
  state.busy = true;
  pauseTimer();
  try {
    const annotation = await api("GET", urls.annotation(state.history[index].id));
    state.historyIndex = index;
    state.view = viewOf(annotation.item, annotation);
    showError("");
  } catch (error) {
    showError(error.message);
  }
  state.busy = false;
  render();
}

function pauseTimer() {
  const view = state.view;
  if (view && !document.hidden) view.spentMs += performance.now() - view.shownAt;
}

// ---------- keys ----------

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.id === "wb-search-input") return;
  if ($("wb-help").open) return;
  if (!$("wb-zoom-layer").hidden) {
    if (["Escape", "z", "Z", "Enter"].includes(event.key)) {
      event.preventDefault();
      closeZoom();
    }
    return;
  }
  const key = event.key;
  const handled = () => event.preventDefault();
  if (/^[1-9]$/.test(key)) {
    const candidate = state.view?.item.candidates[Number(key) - 1];
    if (candidate) toggleClass(candidate.id);
    handled();
  } else if (key === "/") {
    handled();
    $("wb-search-input").focus();
  } else if (key === "Enter") {
    handled();
    submit();
  } else if (key === "ArrowLeft" || key === "Backspace") {
    handled();
    back();
  } else if (key === "ArrowRight") {
    handled();
    forward();
  } else if (key === "Escape" && state.historyIndex >= 0 && !state.busy) {
    handled();
    state.historyIndex = 0;
    forward();
  } else if (key === "?") {
    handled();
    $("wb-help").showModal();
  } else {
    const action = { n: () => toggleFlag("none_fits"), u: () => toggleFlag("unsure"), b: () => toggleFlag("bad_image"), s: skip, z: openZoom }[key.toLowerCase()];
    if (action) {
      handled();
      action();
    }
  }
}

// ---------- zoom ----------

function openZoom() {
  const url = state.view?.item.image.original_url;
  if (!url) return;
  $("wb-zoom-image").src = url;
  $("wb-zoom-layer").hidden = false;
  $("wb-zoom-layer").focus();
}

function closeZoom() {
  $("wb-zoom-layer").hidden = true;
}

// ---------- progress and start ----------

const progress = progressPanel({
  api,
  url: urls.progress,
  bar: $("wb-bar-fill"),
  summary: document.querySelector(".wb-dataset-progress"),
});

const vocabulary = vocabularySearch({
  input: $("wb-search-input"),
  list: $("wb-results"),
  onPick: (id) => addClass(id),
  onEmptyEnter: () => submit(),
});

async function loadVocabulary() {
  vocabulary.setVocabulary(await api("GET", urls.vocabulary));
  if (state.view) render();
}

async function start() {
  document.addEventListener("keydown", onKey);
  $("wb-submit").addEventListener("click", submit);
  $("wb-skip").addEventListener("click", skip);
  $("wb-back").addEventListener("click", back);
  $("wb-zoom").addEventListener("click", openZoom);
  $("wb-image").addEventListener("click", openZoom);
  $("wb-zoom-layer").addEventListener("click", closeZoom);
  $("wb-help-open").addEventListener("click", () => $("wb-help").showModal());
  for (const button of document.querySelectorAll("[data-flag]")) {
    button.addEventListener("click", () => toggleFlag(button.dataset.flag));
  }
  loadVocabulary().catch((error) => showError(`The class list could not be loaded: ${error.message}`));
  progress.refresh();
  const history = await api("GET", `${urls.annotations}?dataset=${encodeURIComponent(root.dataset.dataset)}&limit=200`).catch(() => []);
  state.history = history.map((a) => ({ id: a.id, file_name: a.file_name }));
  state.prefetch = fetchNext([]);
  await advance();
  root.dataset.ready = "true";
}

start();
