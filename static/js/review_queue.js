// The review queue: J/K (or ↓/↑) move the highlighted row, Enter or O opens its image, 1–5 switch tabs.
import { showSaved } from "./review_saved.js";

showSaved(document.getElementById("rv-saved"));
const rows = [...document.querySelectorAll("#rv-queue tr[data-image]")];
const tabs = [...document.querySelectorAll(".rv-tab")];
let current = rows.length ? 0 : -1;

function highlight(index) {
  if (!rows.length) return;
  current = Math.max(0, Math.min(rows.length - 1, index));
  rows.forEach((row, i) => row.classList.toggle("rv-current", i === current));
  rows[current].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("select, input, button")) return;
  const key = event.key;
  if (key === "j" || key === "ArrowDown") highlight(current + 1);
  else if (key === "k" || key === "ArrowUp") highlight(current - 1);
  else if ((key === "Enter" || key === "o") && current >= 0) location.assign(rows[current].querySelector("a").href);
  else if (/^[1-9]$/.test(key) && tabs[Number(key) - 1]) location.assign(tabs[Number(key) - 1].href);
  else return;
  event.preventDefault();
});
highlight(0);
document.getElementById("rv-queue").dataset.ready = "true";
