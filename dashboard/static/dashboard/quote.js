// The segment and credit count of the message as it is typed, from the server's quote logic (GSM-7 or UCS-2,
// and which characters force UCS-2). Debounced: one request per pause in typing.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("quote");
  const textarea = document.querySelector("textarea[name=message], textarea[name=template]");
  if (!box || !textarea) return;
  let timer = null;
  let latest = 0;
  const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
  const show = async () => {
    const request = ++latest;
    const response = await fetch(`${box.dataset.url}?${new URLSearchParams({ message: textarea.value })}`, {
      credentials: "same-origin",
    });
    if (!response.ok || request !== latest) return;
    const quote = await response.json();
    let text = `${plural(quote.characters, "character")} · ${quote.encoding} · ${plural(quote.segments, "segment")} · ${plural(quote.credits, "credit")}`;
    if (quote.non_gsm_characters.length) text += ` · UCS-2 because of: ${quote.non_gsm_characters.join(" ")}`;
    if (quote.too_long) text += ` · too long: at most ${box.dataset.maxSegments} segments`;
    box.textContent = text;
    box.classList.toggle("quote-ucs2", quote.non_gsm_characters.length > 0);
    box.classList.toggle("quote-too-long", quote.too_long);
  };
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(show, 150);
  });
  if (textarea.value) show();
});
