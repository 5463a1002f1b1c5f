"""The PDF case report of a tumour-board case, for the patient file.

``case_report_pdf`` lays out, with reportlab: who and when (institution, meeting, date, the
patient's name, MRN and birth date: this document goes into the patient file, it is not a
research export), the question, the data-completeness checklist when given, the options the
model compared with their intervals and differences, the survival chart (drawn server-side
with matplotlib, same data and palette as the page's plotly chart), the drivers, the model and
the prediction's provenance, the board's decision and the caveats. An unsigned (or missing)
decision puts "DRAFT - not signed" across every page.

Every piece of text that comes from a person or the record goes through ``_text`` (reportlab's
Paragraph parses a small XML markup: "<b>&" in a rationale must print as typed, not as markup).
The fonts are DejaVu Sans, shipped with matplotlib, so names in any European alphabet print.
The numbers come from ``oncology.board_panel`` so the PDF and the page agree.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from typing import Any, Protocol
from xml.sax.saxutils import escape

import matplotlib
from django.utils import timezone
from matplotlib.ticker import PercentFormatter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from oncology.board_panel import CAVEATS, outcomes_panel_context
from oncology.models_board import BoardCase, BoardDecision, DecisionStatus
from oncology.models_outcomes import Prediction

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
WATERMARK = "DRAFT - not signed"
# plotly dash names -> matplotlib line styles (oncology.board_panel.DASHES)
LINESTYLES = {
    "solid": "-",
    "dash": (0, (6, 3)),
    "dot": (0, (1.5, 2)),
    "dashdot": (0, (6, 2, 1.5, 2)),
    "longdash": (0, (10, 3)),
    "longdashdot": (0, (10, 2, 1.5, 2)),
}


class ChecklistItemLike(Protocol):
    label: str
    done: bool
    detail: str


class ChecklistLike(Protocol):
    items: Sequence[ChecklistItemLike]


def _fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    pdfmetrics.registerFont(TTFont(FONT, os.path.join(folder, "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, os.path.join(folder, "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
        "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=16, leading=20),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10
        ),
        "alert": ParagraphStyle(
            "alert",
            parent=body,
            backColor=colors.HexColor("#fdecef"),
            borderColor=colors.HexColor("#a3001b"),
            borderWidth=1,
            borderPadding=5,
            spaceBefore=4,
            spaceAfter=6,
        ),
    }


def _text(value: Any) -> str:
    """Paragraph markup for text typed by a person: escaped, line breaks kept."""
    return escape(str(value if value is not None else "")).replace("\n", "<br/>")


def _person(user: Any) -> str:
    if user is None:
        return ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def _grid(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3"))]
    table.setStyle(TableStyle(style))
    return table


def survival_chart_png(figure: dict[str, Any], *, width_in: float = 6.6) -> bytes:
    """The panel's plotly figure (``board_panel.survival_figure``) drawn with matplotlib
    (Agg, no display): the same curves, bands, colours and dash patterns."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, width_in * 0.55), dpi=150)
    ax = fig.add_subplot(1, 1, 1)
    pending_lower: dict[str, list[float]] = {}
    for trace in figure["data"]:
        meta = trace.get("meta") or {}
        colour = trace["line"]["color"]
        if meta.get("role") == "band":
            if "fill" not in trace:
                pending_lower[meta["option"]] = trace["y"]
            else:
                lower = pending_lower.pop(meta["option"], None)
                if lower is not None:
                    ax.fill_between(
                        trace["x"], lower, trace["y"], step="post", color=colour, alpha=0.18, lw=0
                    )
            continue
        ax.step(
            trace["x"],
            trace["y"],
            where="post",
            color=colour,
            linestyle=LINESTYLES.get(trace["line"].get("dash", "solid"), "-"),
            linewidth=1.8,
            label=trace["name"],
        )
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Years from the start of treatment")
    ax.set_ylabel("Estimated survival")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(True, color="#d5dbe3", linewidth=0.6)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left", frameon=True)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _header(case: BoardCase, s: dict[str, ParagraphStyle]) -> list[Any]:
    meeting, patient = case.meeting, case.patient
    rows = [
        ["Institution", Paragraph(_text(meeting.institution.name), s["cell"])],
        ["Meeting", Paragraph(_text(meeting.title), s["cell"])],
        ["Date", _when(meeting.scheduled_for)],
        ["Patient", Paragraph(_text(f"{patient.family_name}, {patient.given_name}"), s["cell"])],
        ["MRN", Paragraph(_text(patient.mrn), s["cell"])],
        ["Birth date", patient.birth_date.isoformat()],
    ]
    return [
        Paragraph("Tumour board case report", s["title"]),
        Spacer(1, 4),
        _grid(rows, [35 * mm, 135 * mm], header=False),
        Paragraph("Question to the board", s["h2"]),
        Paragraph(_text(case.question), s["body"]),
    ]


def _checklist(checklist: ChecklistLike, s: dict[str, ParagraphStyle]) -> list[Any]:
    rows: list[list[Any]] = [["Item", "Status", "Detail"]]
    for item in checklist.items:
        rows.append(
            [
                Paragraph(_text(item.label), s["cell"]),
                "complete" if item.done else "MISSING",
                Paragraph(_text(item.detail), s["cell"]),
            ]
        )
    return [Paragraph("Data completeness", s["h2"]), _grid(rows, [45 * mm, 22 * mm, 103 * mm])]


def _cell(estimate: Any, s: dict[str, ParagraphStyle], note: str = "") -> Paragraph:
    text = _text(estimate.text)
    if estimate.estimated:
        text += f"<br/><font size=7>({_text(estimate.interval)})</font>"
        if note:
            text += f"<br/><font size=6.5>{_text(note)}</font>"
    return Paragraph(text, s["cell"])


def _outcomes(panel: dict[str, Any], s: dict[str, ParagraphStyle]) -> list[Any]:
    model = panel["model"]
    story: list[Any] = [Paragraph("Outcome estimates (associational evidence)", s["h2"])]
    story.append(
        Paragraph(
            _text(
                f"Model {model['name']} version {model['version']} ({model['kind']}, status "
                f"{model['status_display']}); prediction {panel['prediction_id']} of "
                f"{_when(panel['created_at'])}; inputs sha256 {panel['inputs_sha256']}."
            ),
            s["small"],
        )
    )
    if model["simulated"]:
        story.append(
            Paragraph("Trained on SIMULATED patients: for demonstration only.", s["alert"])
        )
    inputs = ", ".join(
        f"{k} = {'not recorded' if v is None else v}" for k, v in (panel["inputs"] or {}).items()
    )
    if inputs:
        story.append(Paragraph(_text(f"Inputs: {inputs}."), s["small"]))
    for warning in panel["warnings"]:
        story.append(Paragraph(_text(f"Warning: {warning}"), s["small"]))
    if panel["state"] == "abstained":
        story.append(
            Paragraph(
                "<b>No estimate for this patient.</b> " + _text(panel["abstain_reason"]) + " "
                "No survival or response numbers are given.",
                s["alert"],
            )
        )
        return story
    if panel["bands"]["message"]:
        story.append(Paragraph(_text(panel["bands"]["message"]), s["small"]))
    header = ["Option", "1-year survival", "2-year survival", "5-year survival"]
    header += ["RMST to 5 years (months)", "Response probability"]
    rows: list[list[Any]] = [[Paragraph(f"<b>{h}</b>", s["cell"]) for h in header]]
    spans = []
    for row in panel["options"]:
        if not row.applicable:
            reason = "Not judged for this patient. " + row.not_applicable_reason
            rows.append([Paragraph(_text(row.key), s["cell"]), Paragraph(_text(reason), s["cell"])])
            rows[-1] += [""] * 4
            spans.append(("SPAN", (1, len(rows) - 1), (-1, len(rows) - 1)))
            continue
        common = panel["response_definition"]
        response = _cell(row.response, s, note="" if common else row.response_definition)
        rows.append(
            [
                Paragraph(_text(row.key), s["cell"]),
                _cell(row.survival_1y, s),
                _cell(row.survival_2y, s),
                _cell(row.survival_5y, s),
                _cell(row.rmst, s),
                response,
            ]
        )
    table = _grid(rows, [44 * mm, 23 * mm, 23 * mm, 23 * mm, 27 * mm, 34 * mm])
    table.setStyle(TableStyle(spans))
    story += [Spacer(1, 4), table]
    story.append(
        Paragraph(
            "95% intervals in brackets. " + _text(panel["explanations"]["interval"]), s["small"]
        )
    )
    if panel["reference"]:
        ref = panel["reference"]
        rows = [
            [
                Paragraph(f"<b>{h}</b>", s["cell"])
                for h in ("Option", "1-year", "2-year", "5-year", "RMST (months)")
            ]
        ]
        for row in panel["options"]:
            if not row.applicable:
                continue
            if row.key == ref:
                rows.append([Paragraph(_text(row.key), s["cell"]), "reference", "", "", ""])
                continue
            diffs = row.differences
            rows.append(
                [Paragraph(_text(row.key), s["cell"])]
                + [
                    _cell(diffs[m], s)
                    for m in ("survival_1y", "survival_2y", "survival_5y", "rmst")
                ]
            )
        story += [
            Paragraph(_text(f"Difference from {ref} (option minus {ref})"), s["h2"]),
            _grid(rows, [44 * mm, 30 * mm, 30 * mm, 30 * mm, 40 * mm]),
            Paragraph(_text(panel["explanations"]["difference"]), s["small"]),
        ]
    if panel["figure"]["data"]:
        png = survival_chart_png(panel["figure"])
        chart = Image(io.BytesIO(png), width=165 * mm, height=165 * mm * 0.55)
        caption = "Estimated survival under each option, with 95% bands where computed."
        if panel["not_drawn"]:
            caption += " Not drawn (not judged): " + ", ".join(r.key for r in panel["not_drawn"])
        story.append(KeepTogether([Spacer(1, 6), chart, Paragraph(_text(caption), s["small"])]))
    story.append(Paragraph("Main drivers of each estimate", s["h2"]))
    for row in panel["options"]:
        if row.applicable and row.drivers:
            drivers = "; ".join(row.drivers)
            story.append(Paragraph(f"<b>{_text(row.key)}</b>: {_text(drivers)}", s["body"]))
    return story


def _decision(decision: BoardDecision | None, s: dict[str, ParagraphStyle]) -> list[Any]:
    story: list[Any] = [Paragraph("Decision of the board", s["h2"])]
    if decision is None:
        story.append(Paragraph("No decision recorded yet.", s["body"]))
        return story
    signed = decision.status == DecisionStatus.SIGNED
    attendees = [_person(u) for u in decision.attendees.all()]
    attendees += [line.strip() for line in decision.guest_attendees.splitlines() if line.strip()]
    rows = [
        ["Version", f"{decision.version} ({decision.get_status_display()})"],
        ["Chosen option", Paragraph(_text(decision.chosen_option), s["cell"])],
        ["Plan", Paragraph(_text(decision.plan), s["cell"])],
        ["Rationale", Paragraph(_text(decision.rationale), s["cell"])],
        ["Dissent", Paragraph(_text(decision.dissent or "none recorded"), s["cell"])],
        ["Attendees", Paragraph(_text(", ".join(attendees) or "none recorded"), s["cell"])],
    ]
    if decision.amendment_reason:
        rows.append(["Amendment reason", Paragraph(_text(decision.amendment_reason), s["cell"])])
    if decision.model_name:
        rows.append(
            [
                "Prediction shown",
                Paragraph(
                    _text(
                        f"{decision.model_name} version {decision.model_version}, inputs sha256 "
                        f"{decision.inputs_sha256}"
                    ),
                    s["cell"],
                ),
            ]
        )
    signature = (
        f"{_person(decision.signed_by)}, {_when(decision.signed_at)}"
        if signed
        else "NOT SIGNED (draft)"
    )
    rows.append(["Signed by", Paragraph(_text(signature), s["cell"])])
    story.append(_grid(rows, [35 * mm, 135 * mm], header=False))
    return story


def case_report_pdf(
    *,
    case: BoardCase,
    decision: BoardDecision | None,
    prediction: Prediction | None,
    checklist: ChecklistLike | None = None,
    generated_at: dt.datetime | None = None,
) -> bytes:
    """The case report as PDF bytes. ``checklist``: the case's completeness checklist
    (``selectors_board.case_checklist``), left out when None. The caller has checked that the
    user may see the patient and audits the export. Same inputs, same bytes (reportlab's
    invariant mode; ``generated_at`` defaults to now)."""
    _fonts()
    s = _styles()
    generated = generated_at or timezone.now()
    reference = decision.chosen_option if decision is not None else None
    panel = outcomes_panel_context(prediction=prediction, user=None, reference=reference)
    story = _header(case, s)
    if checklist is not None:
        story += _checklist(checklist, s)
    if panel["state"] == "none":
        story += [
            Paragraph("Outcome estimates", s["h2"]),
            Paragraph("No prediction was made for this case.", s["body"]),
        ]
    else:
        story += _outcomes(panel, s)
    story += _decision(decision, s)
    story.append(Paragraph("Read with care", s["h2"]))
    story += [Paragraph(_text(f"- {c}"), s["small"]) for c in CAVEATS]
    draft = decision is None or decision.status != DecisionStatus.SIGNED
    footer = f"Tumour board case report - patient file - generated {_when(generated)}"

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#3d4b5c"))
        canvas.drawString(18 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        if draft:
            canvas.setFont(FONT_BOLD, 54)
            canvas.setFillColor(colors.Color(0.64, 0.0, 0.1, alpha=0.18))
            canvas.translate(A4[0] / 2, A4[1] / 2)
            canvas.rotate(45)
            canvas.drawCentredString(0, 0, WATERMARK)
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title="Tumour board case report",
        author=case.meeting.institution.name,
        invariant=True,
    )
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()
