// The bell in the top bar and a short notice, for notifications the review room pushes to the
// person on this page (their inbox has them whatever happens here).
export function showNotification(message) {
  const count = document.querySelector("[data-bell-count]");
  if (count) {
    count.textContent = String(message.unread);
    count.hidden = !message.unread;
    count.closest("[data-bell]")?.setAttribute("aria-label", `Inbox: ${message.unread} unread`);
  }
  const toast = document.createElement("a");
  toast.className = "toast";
  toast.setAttribute("role", "status");
  toast.href = `/inbox/${message.id}/`;
  toast.dataset.notification = String(message.id);
  toast.textContent = message.text;
  document.body.append(toast);
  setTimeout(() => toast.remove(), 8000);
}
