// The editor's ASC CDL as a viewing grade: a checkbox on the shot page puts the page's SVG
// filter (#shot-cdl, made on the server from the shot's CDL) on every player's picture.
export function bindCdlToggles(root = document) {
  for (const box of root.querySelectorAll("[data-cdl-toggle]")) {
    const apply = () => {
      for (const video of document.querySelectorAll("ap-player video")) {
        video.style.filter = box.checked ? "url(#shot-cdl)" : "";
      }
    };
    box.addEventListener("change", apply);
    apply();
  }
}
