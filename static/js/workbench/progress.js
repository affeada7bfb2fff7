// The workbench's progress bar: my counts today and in total, and the dataset's completion.
// The dataset-wide figures aggregate every image, so they are asked for at most every 30 s; my own
// counts go up locally with each new answer in between.

const REFRESH_MS = 30000;
const grouped = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : n); // 25,000, as on the pages

export function progressPanel({ api, url, bar, summary }) {
  let askedAt = 0;

  function field(key) {
    return document.querySelector(`[data-progress="${key}"]`);
  }

  async function refresh() {
    askedAt = Date.now();
    try {
      const p = await api("GET", url);
      const percent = p.annotations_needed ? Math.floor((100 * p.annotations_done) / p.annotations_needed) : 100;
      for (const [key, value] of Object.entries({ ...p, percent: `${percent}%` })) {
        const node = field(key);
        if (node) node.textContent = grouped(value);
      }
      bar.style.width = `${percent}%`;
      summary.title =
        `${grouped(p.annotations_done)} of ${grouped(p.annotations_needed)} annotations, ` +
        `${grouped(p.images_complete)} of ${grouped(p.images)} images complete`;
    } catch {
      /* progress is informative only */
    }
  }

  return {
    refresh,
    // After a new answer: my counts go up at once, the rest when it is due.
    answered() {
      for (const key of ["mine_today", "mine_total"]) {
        const node = field(key);
        const value = Number.parseInt((node?.textContent ?? "").replaceAll(",", ""), 10);
        if (node && Number.isFinite(value)) node.textContent = grouped(value + 1);
      }
      if (Date.now() - askedAt > REFRESH_MS) refresh();
    },
    // After a revision: nothing of mine changed in count.
    revised() {
      if (Date.now() - askedAt > REFRESH_MS) refresh();
    },
  };
}
