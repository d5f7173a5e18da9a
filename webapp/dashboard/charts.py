"""Charts as SVG geometry, drawn server-side (templates/dashboard/_charts.html) with no script."""

from dataclasses import dataclass

WIDTH, HEIGHT = 600, 200
PAD_LEFT, PAD_BOTTOM, PAD_TOP, PAD_RIGHT = 56, 28, 12, 8


@dataclass
class Chart:
    """What the template draws: bars or lines inside a plot area, with axis labels."""

    title: str
    bars: list
    lines: list
    y_ticks: list
    x_labels: list
    width: int = WIDTH
    height: int = HEIGHT


def _scale(maximum):
    """A round top for the y axis at or above `maximum`."""
    if maximum <= 0:
        return 1
    step = 1
    while step * 10 < maximum:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= maximum:
            return step * factor
    return step * 10


def _frame(dates, top, unit):
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(dates), 1)
    ticks = [
        {"y": PAD_TOP + plot_h - plot_h * i / 4, "label": f"{top * i / 4:,.0f}{unit}"}
        for i in range(5)
    ]
    every = max(1, len(dates) // 7)
    labels = [
        {"x": PAD_LEFT + slot * (i + 0.5), "text": date[5:]}
        for i, date in enumerate(dates) if i % every == 0
    ]
    return plot_w, plot_h, slot, ticks, labels


def calls_per_day(daily):
    """Bars of calls per day (failed calls marked) from my-summary's `daily`."""
    dates = [day["date"] for day in daily]
    top = _scale(max((day["total_calls"] for day in daily), default=0))
    _, plot_h, slot, ticks, labels = _frame(dates, top, "")
    bars = []
    for i, day in enumerate(daily):
        height = plot_h * day["total_calls"] / top
        failed = plot_h * day["failed_calls"] / top
        x = PAD_LEFT + slot * i + slot * 0.15
        bars.append({
            "x": x, "width": slot * 0.7, "y": PAD_TOP + plot_h - height, "height": height,
            "failed_y": PAD_TOP + plot_h - failed, "failed_height": failed,
            "date": day["date"], "calls": day["total_calls"], "failed": day["failed_calls"],
        })
    return Chart("Calls per day", bars, [], ticks, labels)


def latency_per_day(series, keys):
    """One polyline per key (e.g. p50_duration_ms, p95_duration_ms) over the days; a day
    without a value breaks the line."""
    dates = [point["date"] for point in series]
    values = [point[key] for point in series for key in keys if point[key] is not None]
    top = _scale(max(values, default=0))
    _, plot_h, slot, ticks, labels = _frame(dates, top, " ms")
    lines = []
    for key in keys:
        points = []
        for i, point in enumerate(series):
            if point[key] is not None:
                points.append({
                    "x": PAD_LEFT + slot * (i + 0.5),
                    "y": PAD_TOP + plot_h - plot_h * point[key] / top,
                    "date": point["date"], "value": point[key],
                })
        lines.append({"key": key, "points": points,
                      "path": " ".join(f"{p['x']:.1f},{p['y']:.1f}" for p in points)})
    return Chart("Latency per day", [], lines, ticks, labels)
