// Release list page: follow each build's progress through the API; reload when one finishes.
const POLL_MS = 1000;

async function follow(card) {
  const bar = card.querySelector("progress");
  const phase = card.querySelector(".phase");
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    let state;
    try {
      const response = await fetch(card.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) continue;
      state = await response.json();
    } catch {
      continue; // a network hiccup: try again on the next tick
    }
    bar.value = state.progress;
    phase.textContent = state.phase;
    if (state.state !== "building") {
      window.location.reload();
      return;
    }
  }
}

document.querySelectorAll("[data-progress-url]").forEach(follow);
