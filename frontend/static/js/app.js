// Page behaviour that needs no framework: live ingest progress, and the player element.
import "./player.js";
import "./review.js";
import { bindCdlToggles } from "./cdl.js";

function pollGrid() {
  const holder = document.getElementById("shot-grid");
  if (!holder) return;
  const tick = async () => {
    if (!holder.querySelector("[data-busy]")) return;
    const response = await fetch(holder.dataset.pollUrl, { headers: { "X-Requested-With": "fetch" } });
    if (response.ok) holder.innerHTML = await response.text();
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}

function reloadWhenReady() {
  if (document.querySelector("[data-reload-when-ready]")) setTimeout(() => location.reload(), 3000);
}

pollGrid();
reloadWhenReady();
bindCdlToggles();
