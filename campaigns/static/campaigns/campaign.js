// The campaign pages: the new campaign's preview (its first recipient's message and its cost), the detail page's
// live progress while it sends, and a confirmation before cancelling.
document.addEventListener("DOMContentLoaded", () => {
  const preview = document.getElementById("preview");
  if (preview) {
    const form = document.getElementById("campaign-form");
    const to = document.getElementById("preview-to");
    const text = document.getElementById("preview-text");
    const cost = document.getElementById("preview-cost");
    let timer = null;
    let latest = 0;
    const refresh = async () => {
      const group = form.elements.group.value;
      const message = form.elements.message.value;
      if (!group || !message) return;
      const request = ++latest;
      const response = await fetch(`${preview.dataset.url}?${new URLSearchParams({ group, message })}`, {
        credentials: "same-origin",
      });
      if (request !== latest) return;
      const answer = await response.json();
      if (!response.ok) {
        to.textContent = answer.error;
        text.hidden = true;
        cost.textContent = "";
        return;
      }
      if (!answer.sample) {
        to.textContent = "This group has no one to send to (no members, or all opted out).";
        text.hidden = true;
      } else {
        to.textContent = `To ${answer.sample.phone} (${answer.sample.encoding}, ${answer.sample.segments} segment(s)):`;
        text.textContent = answer.sample.text;
        text.hidden = false;
      }
      cost.textContent = `${answer.recipients.toLocaleString()} recipient(s) · about ${answer.credits.toLocaleString()} credit(s), reserved when you send.`;
    };
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    };
    form.elements.message.addEventListener("input", later);
    form.elements.group.addEventListener("change", refresh);
    refresh();
  }

  const progress = document.getElementById("campaign-progress");
  if (progress && progress.dataset.url) {
    const body = document.getElementById("progress-body");
    const poll = async () => {
      const response = await fetch(progress.dataset.url, { credentials: "same-origin" });
      if (response.ok) {
        const answer = await response.json();
        body.innerHTML = answer.html;
        if (!answer.live) {
          window.location.reload(); // its status changed: the page offers other actions now
          return;
        }
      }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
