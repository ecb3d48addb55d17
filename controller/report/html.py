"""One self-contained HTML file: inline CSS, charts as ``data:`` SVG images, no script, nothing to fetch.

A Content-Security-Policy meta tag (``default-src 'none'``) makes the browser refuse any request the
page might still try, so "opens offline" is enforced by the browser, not only by how the page is written.
Every text that came from outside (messages, pod names, the spec) is escaped.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

import yaml

from controller.report import charts, fmt
from controller.report.model import HeadlineRow, Report
from controller.report.summary import markdown

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
STYLE = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1040px;color:#222;
font-size:14px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:12px}.summary{background:#f4f8f4;border-left:4px solid #1a9850;padding:8px 14px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;white-space:nowrap}
.ci{color:#777;font-size:11px}.better{color:#1a7a3f}.worse{color:#b2182b}figure{margin:14px 0}
figure img{width:100%;height:auto;border:1px solid #eee}figcaption{font-size:12px;color:#444}
.Pass{color:#2b8a3e}.Fail{color:#c92a2a;font-weight:bold}.Inconclusive{color:#777}pre{background:#f7f7f7;
padding:8px;overflow-x:auto;font-size:12px}.note{color:#8a5a00;font-size:12px}
"""
HOW_TO_READ = (
    "Green is the candidate (Python 3.12), blue the current build (3.11), measured over the same window "
    "under the same traffic. Each figure shows its 95% interval in brackets and its sample count "
    "(requests for latency and errors, scraped points for gauges). Latency quantiles come from the "
    "histograms; their intervals are rank intervals, so a bucket's width limits the resolution. "
    "A change whose interval spans 0 is not a measured difference. Charts: shaded bands are green's "
    "weight steps (darker = more traffic), the dashed red line is the check's threshold, dots are the "
    "values the operator judged, the strip underneath is each evaluation's verdict (green Pass, red Fail, "
    "grey Inconclusive, orange Prometheus outage), dotted lines mark decisions."
)


def _data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cells) + "</tr>" for rows_cells in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: str, cls: str = "", data: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' data-track="{data}"' if data else "")
    return f"<td{attrs}>{text}</td>"


def _estimate_cell(row: HeadlineRow, track: str) -> str:
    e = row.green if track == "green" else row.blue
    ci = fmt.interval(e, row.unit)
    text = escape(fmt.value(e.value, row.unit)) + (f' <span class="ci">{escape(ci)}</span>' if ci else "")
    return _td(text, "num", track)


def _change_class(row: HeadlineRow) -> str:
    e = row.change
    if e.low is None or e.high is None or row.better == "neither" or e.low <= 0 <= e.high:
        return "num"
    worse = e.low > 0 if row.better == "lower" else e.high < 0
    return "num worse" if worse else "num better"


def headline_table(report: Report) -> str:
    rows = [
        [
            _td(escape(r.label)),
            _estimate_cell(r, "green"),
            _estimate_cell(r, "blue"),
            _td(escape(fmt.change(r.change, r.change_kind, r.unit)), _change_class(r)),
            _td(f"{r.green.samples} / {r.blue.samples}", "num"),
            _td(escape(r.note)),
        ]
        for r in report.headline
    ]
    if not rows:
        return '<p class="note">No figures: none of the series the report reads exist in this window.</p>'
    header = ["figure", "green (3.12)", "blue (3.11)", "change (green vs blue)", "n green / blue", "note"]
    return _table(header, rows, "headline")


def _figure(svg: bytes, alt: str, caption: str, name: str) -> str:
    return (
        f'<figure class="chart" data-check="{escape(name)}"><img alt="{escape(alt)}" src="{_data_uri(svg)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def chart_sections(report: Report) -> str:
    run = report.run
    parts = [_figure(charts.svg(charts.weight_figure(run)), "green weight over time", "", "weights")]
    for chart in report.charts:
        last = chart.verdicts[-1][1] if chart.verdicts else "not evaluated"
        caption = (
            f"<b>{escape(chart.name)}</b> ({escape(chart.description)}); last verdict "
            f'<span class="{escape(last)}">{escape(last)}</span>'
            + (f": {escape(chart.last_message)}" if chart.last_message else "")
            + (f' <span class="note">{escape(chart.note)}</span>' if chart.note else "")
        )
        svg = charts.svg(charts.check_figure(chart, run))
        parts.append(_figure(svg, f"{chart.name}: green and blue over time", caption, chart.name))
    return "\n".join(parts)


def _steps(report: Report) -> str:
    rows = [
        [
            _td(str(s.index + 1)),
            _td(f"{s.weight}%", "num"),
            _td(escape(s.pause)),
            _td(escape(fmt.clock(s.start))),
            _td(escape(fmt.duration(s.baked)), "num"),
            _td(escape(s.outcome)),
        ]
        for s in report.steps
    ]
    if not rows:
        return "<p>No step took traffic in this window.</p>"
    return _table(["step", "weight", "pause (spec)", "weight verified", "baked", "ended"], rows, "steps")


def _versions(report: Report) -> str:
    rows = [
        [_td(track), _td(escape(pod)), _td(escape(version))]
        for track in ("green", "blue")
        for pod, version in sorted(report.versions.get(track, {}).items())
    ]
    if not rows:
        return "<p>No python_info series in this window.</p>"
    return _table(["track", "pod", "Python"], rows, "versions")


def _events(report: Report) -> str:
    rows = [
        [_td(escape(fmt.clock(e.at))), _td(escape(e.type)), _td(escape(e.reason)), _td(escape(e.message))]
        for e in sorted(report.run.events, key=lambda e: e.at)
    ]
    return _table(["time", "type", "reason", "message"], rows, "events") if rows else "<p>No events recorded.</p>"


def render_html(report: Report) -> str:
    run = report.run
    title = f"Migration report: {run.namespace}/{run.name}"
    notes = "".join(f'<li class="note">{escape(n)}</li>' for n in report.notes)
    spec = yaml.safe_dump(run.spec.to_wire(), sort_keys=False)
    body = [
        f"<h1>{escape(title)} — {escape(run.phase)}</h1>",
        f'<p class="meta">{escape(fmt.clock(run.start))} to {escape(fmt.clock(run.end))}, compared from '
        f"{escape(fmt.clock(run.judged_from))}; Prometheus {escape(report.prometheus or 'n/a')}; "
        f"generated {escape(fmt.clock(report.generated_at))}</p>",
        '<div class="summary" id="summary">' + "".join(f"<p>{escape(line)}</p>" for line in report.summary) + "</div>",
        "<h2>Green (3.12) vs blue (3.11)</h2>",
        headline_table(report),
        f'<p class="meta">{escape(HOW_TO_READ)}</p>',
        "<h2>Over time, per check</h2>",
        chart_sections(report),
        "<h2>Steps as they ran</h2>",
        _steps(report),
        "<h2>Python versions per pod</h2>",
        _versions(report),
        "<h2>Events</h2>",
        _events(report),
        "<h2>Spec as run</h2>",
        f"<pre>{escape(spec)}</pre>",
        "<h2>For the pull request (Markdown)</h2>",
        f"<pre>{escape(markdown(report))}</pre>",
    ]
    if notes:
        body += ["<h2>Notes</h2>", f"<ul>{notes}</ul>"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
