"""Charts drawn on the server as SVG: no JavaScript library, nothing to fetch from a CDN."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Bottom to top, with the colours the stylesheet gives their legend (dashboard.css, .status-*).
STACK = [
    ("delivered", "#2e7d32"),
    ("sent", "#1976d2"),
    ("queued", "#9e9e9e"),
    ("undelivered", "#ef6c00"),
    ("failed", "#c62828"),
]
WIDTH, HEIGHT, AXIS = 900, 220, 24  # the viewBox; the SVG scales to its container


def daily_messages_chart(days: list[dict]) -> SafeString:
    """Stacked bars of messages by status, a bar per day (`days` oldest first, as home_figures gives them)."""
    peak = max((sum(day[status] for status, _ in STACK) for day in days), default=0) or 1
    slot = WIDTH / max(len(days), 1)
    plot = HEIGHT - AXIS
    bars = []
    for index, day in enumerate(days):
        x, bottom = index * slot + slot * 0.15, plot
        title = f"{day['day']:%d %b}: " + ", ".join(f"{day[status]} {status}" for status, _ in STACK)
        rects = []
        for status, colour in STACK:
            height = day[status] / peak * (plot - 12)
            if height:
                bottom -= height
                rects.append((f"{x:.1f}", f"{bottom:.1f}", f"{slot * 0.7:.1f}", f"{height:.1f}", colour))
        bars.append(
            format_html(
                "<g><title>{}</title>{}</g>",
                title,
                format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>', rects),
            )
        )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{min(index * slot + slot / 2, WIDTH - 22):.1f}", HEIGHT - 6, f"{day['day']:%d %b}")  # today's fits
            for index, day in enumerate(days)
            if index % 5 == (len(days) - 1) % 5  # every fifth day, ending on today
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="Messages per day by status">'
        '<line x1="0" y1="{}" x2="{}" y2="{}" class="axis"></line>'
        '<text x="2" y="10" class="peak">{}</text>{}{}</svg>',
        WIDTH,
        HEIGHT,
        plot,
        WIDTH,
        plot,
        peak,
        SafeString("".join(bars)),
        labels,
    )
