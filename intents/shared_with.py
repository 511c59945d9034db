"""Does a request ask whom its writer's data was shared with (Art. 15(1)(c), 19 second sentence)?

A phrase detector over the 14 languages we answer in (pure). Its limits: it knows phrasings, not
meaning — a paraphrase without a listed phrase ("which companies got my details?") is missed, and
a mention in another sense ("I do not want you to share my data with anyone") is a hit, which
only adds the list of recipients to an access package; it never decides the intent itself.
"""

from __future__ import annotations

import re

_PHRASES = [
    # en
    r"\bwho\b[^.?!]{0,40}\b(share[sd]?|sharing|pass(ed)?|give[ns]?|gave|disclose[sd]?|sold|sell)\b",
    r"\b(whom|which (companies|third parties|partners))\b[^.?!]{0,40}"
    r"\b(share|pass|disclos|sold|sell|give|gave)",
    r"\brecipients? of my (personal )?(data|information)\b",
    r"\bshared? my (personal )?(data|information) with\b",
    # de
    r"\ban wen\b[^.?!]{0,60}\b(weitergegeben|weitergeben|übermittelt|geteilt|verkauft)",
    r"\bmit wem\b[^.?!]{0,60}\bgeteilt",
    r"\bempfänger\b[^.?!]{0,30}\b(meiner|der) daten",
    # nl
    r"\bmet wie\b[^.?!]{0,60}\b(gedeeld|delen)",
    r"\baan wie\b[^.?!]{0,60}\b(doorgegeven|verstrekt|verkocht)",
    r"\bontvangers van mijn (persoons)?gegevens",
    # sv
    r"\b(till vem|till vilka|med vem|med vilka)\b[^.?!]{0,60}"
    r"\b(lämnat ut|lämnar ut|delat|delar|sålt)",
    r"\bmottagare av mina (person)?uppgifter",
    # fr
    r"\bà qui\b[^.?!]{0,60}\b(communiqu|transmis|transmettez|partag|vendu|cédé)",
    r"\bavec qui\b[^.?!]{0,60}\bpartag",
    r"\bdestinataires de mes données",
    # es
    r"\b(a quién|a quiénes|con quién|con quiénes)\b[^.?!]{0,60}"
    r"\b(comunicado|cedido|compartido|compart|vendido|transmitido)",
    r"\bdestinatarios de mis datos",
    # it
    r"\b(a chi|con chi)\b[^.?!]{0,60}\b(comunicat|condivis|ceduto|trasmess|vendut)",
    r"\bdestinatari dei miei dati",
    # pt
    r"\b(com quem|a quem)\b[^.?!]{0,60}\b(partilh|compartilh|comunic|transmit|vend|ced)",
    r"\bdestinatários dos meus dados",
    # ro
    r"\b(cui|cu cine)\b[^.?!]{0,60}\b(comunicat|transmis|partajat|împărtășit|vândut|dat)",
    r"\bdestinatarii datelor mele",
    # pl
    r"\b(komu|z kim)\b[^.?!]{0,60}\b(przekaza|udostępni|udostępnia|sprzeda|dzieli)",
    r"\bodbiorc\w* moich danych",
    # ru
    r"\b(кому|с кем)\b[^.?!]{0,60}\b(переда|предостав|прода|дели)",
    r"\bполучател\w* моих данных",
    # cs
    r"\b(komu|s kým)\b[^.?!]{0,60}\b(předal|předáv|poskytl|sdíl|prodal)",
    r"\bpříjemc\w* mých údajů",
    # hr
    r"\b(kome|s kim)\b[^.?!]{0,60}\b(proslijed|dijel|dostav|prodal|dali)",
    r"\bprimatelj\w* mojih podataka",
    # el
    r"(σε ποιους|σε ποιον|με ποιους)[^.?!;]{0,60}(κοινοποι|διαβιβ|μοιρα|πουλ|δώσ)",
    r"αποδέκτ\w* των δεδομένων μου",
]
_RE = re.compile("|".join(f"(?:{p})" for p in _PHRASES), re.IGNORECASE)


def asks_about_recipients(text: str) -> bool:
    """True when the text asks whom the writer's data was shared with (phrase match)."""
    return bool(_RE.search(text[:20_000]))


__all__ = ["asks_about_recipients"]
