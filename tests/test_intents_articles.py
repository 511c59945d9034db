"""The article cue: which right a letter cites by number, and how far that raises its score."""

from pathlib import Path

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st

from intents import IntentModel
from intents.articles import _CANDIDATE, GDPR, NATIONAL, cited_intents, raise_cited
from intents.cue_component import ArticleCue
from intents.encoder_components import EncoderTextCat
from intents.errors import ModelError
from intents.labels import LABELS
from intents.train import build_pipeline, set_cue
from intents.tune import tune_cue


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("I request a copy under Article 15 of the GDPR.", ("see",)),
        ("Gemäß Art. 16 DSGVO bitte ich um Berichtigung.", ("change",)),
        ("Je demande l'effacement (article 17 du RGPD).", ("delete",)),
        ("Solicito el acceso conforme al artículo 15 del RGPD.", ("see",)),
        ("Chiedo la rettifica ai sensi dell'art. 16 GDPR.", ("change",)),
        ("Peço o apagamento nos termos do artigo 17.º do RGPD.", ("delete",)),
        ("Verzoek op grond van artikel 15 AVG.", ("see",)),
        ("Żądam usunięcia danych (art. 17 RODO).", ("delete",)),
        ("Žádám o opravu podle článku 16 GDPR.", ("change",)),
        ("Zahtjev prema članku 17 GDPR-a.", ("delete",)),
        ("Solicit acces conform articolului 15 din GDPR.", ("see",)),
        ("Begäran enligt artikel 20 i dataskyddsförordningen.", ("see",)),
        ("Anmodning efter artikel 16 i databeskyttelsesforordningen.", ("change",)),
        ("Krav etter artikkel 17 i personvernforordningen.", ("delete",)),
        ("Pyyntö tietosuoja-asetuksen 15 artiklan nojalla.", ("see",)),
        ("Kérem az adatok törlését a GDPR 17. cikke alapján.", ("delete",)),
        ("Prašau ištaisyti duomenis pagal BDAR 16 straipsnį.", ("change",)),
        ("KVKK ve GDPR 15. madde uyarınca bilgi talep ediyorum.", ("see",)),
        ("Прошу удалить данные согласно статье 17 GDPR.", ("delete",)),
        ("Прошу надати копію відповідно до ст. 15 GDPR.", ("see",)),
        ("Моля за достъп съгласно чл. 15 от ОРЗД.", ("see",)),
        ("Ζητώ διόρθωση σύμφωνα με το άρθρο 16 του ΓΚΠΔ.", ("change",)),
        ("根据GDPR第17条，请删除我的数据。", ("delete",)),
        ("GDPR第15条に基づき開示を請求します。", ("see",)),
        ("GDPR 제16조에 따라 정정을 요청합니다.", ("change",)),
        ("أطلب الوصول إلى بياناتي بموجب المادة 15 من اللائحة.", ("see",)),
        ("أطلب حذف بياناتي وفق المادة ١٧.", ("delete",)),  # Arabic-Indic digits
        ("GDPR第１５条に基づく請求です。", ("see",)),  # full-width digits
        ("Art. 15 und Art. 17 DSGVO: Auskunft und Löschung.", ("see", "delete")),
        ("Auskunft und Löschung nach Art. 15 und 17 DSGVO.", ("see", "delete")),
        ("Löschung nach Art. 17 Abs. 1 lit. a DSGVO.", ("delete",)),
        ("Access under Art. 15(3) GDPR.", ("see",)),
        ("Effacement selon l'art. 17 RGPD sous 15 jours.", ("delete",)),  # a day count
        ("Verzoek op grond van artikel 15 of 17 AVG.", ("see", "delete")),
    ],
)
def test_a_cited_right_is_read_in_each_language(text: str, cited: tuple[str, ...]) -> None:
    assert cited_intents(text) == cited


@pytest.mark.parametrize(
    "text",
    [
        "I will complain to the authority under Article 77 GDPR.",
        "Ich widerspreche nach Art. 21 DSGVO.",  # an objection: unsubscribe or concern
        "Your rights under Art. 15–22 GDPR are listed below.",  # a range of rights
        "Art. 15, 16 und 17 DSGVO geben Ihnen Rechte.",  # three rights: a list
        "Ordered on 15.03.2026, invoice of 16 EUR, 17 items.",  # numbers, no article
        "Art. 15.3 of our terms of service.",  # a decimal section
        "Nach § 15 UWG ist das unzulässig.",  # a section of another law
        "Прошу прекратить рассылку по ст. 15 Федерального закона 152-ФЗ.",  # 152-FZ Art. 15
        "",
    ],
)
def test_no_right_is_read_where_none_is_asked(text: str) -> None:
    assert cited_intents(text) == ()


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("個人情報保護法第33条に基づく開示請求", ("see",)),
        ("個人情報保護法第35条に基づく利用停止・消去の請求", ("delete",)),
        ("根据《个人信息保护法》第47条，请删除我的个人信息。", ("delete",)),
        ("개인정보 보호법 제35조에 따른 열람 청구", ("see",)),
        ("Auskunft nach § 34 BDSG", ("see",)),
        ("Запрос по ст. 14 Федерального закона 152-ФЗ", ("see",)),
    ],
)
def test_a_national_law_is_read_with_its_own_numbers(text: str, cited: tuple[str, ...]) -> None:
    assert cited_intents(text) == cited


@given(st.text())
def test_any_text_gives_at_most_two_known_intents(text: str) -> None:
    cited = cited_intents(text)
    assert len(cited) <= 2 and set(cited) <= {"see", "change", "delete"}
    assert list(cited) == sorted(cited, key=LABELS.index)


def test_every_article_in_the_tables_passes_the_first_look() -> None:
    for number in {*GDPR, *(n for _, table in NATIONAL for n in table)}:
        assert _CANDIDATE.search(f"Art. {number}"), number


def test_raising_moves_only_the_cited_scores_and_stays_a_probability() -> None:
    scores = {"see": 0.2, "change": 0.1, "delete": 0.6, "concern": 0.9, "unsubscribe": 0.0}
    raised = raise_cited(scores, ("delete",), 0.5)
    assert raised["delete"] == pytest.approx(0.8)
    assert {k: v for k, v in raised.items() if k != "delete"} == {
        **{k: v for k, v in scores.items() if k != "delete"},
        "other": 0.0,
    }
    assert raise_cited(scores, ("delete",), 0.0)["delete"] == 0.6
    assert raise_cited({"see": 1.0}, ("see",), 0.6)["see"] == 1.0
    assert raise_cited(scores, ("see", "change"), 1.0)["change"] == 1.0


def _one_hot(label: str, high: float) -> dict[str, float]:
    return {x: high if x == label else 0.05 for x in LABELS}


def test_the_cue_is_tuned_only_when_citations_are_right() -> None:
    # Formal requests read as complaints; they cite the right they ask for.
    gold = [("change",)] * 10 + [("concern",)] * 10
    scores = [{**_one_hot("concern", 0.7), "change": 0.4}] * 10 + [_one_hot("concern", 0.8)] * 10
    helpful = [("change",)] * 10 + [()] * 10
    assert tune_cue(gold, scores, helpful) > 0.0
    # Complaints that cite the article they complain about: raising it would make them wrong.
    misleading = [()] * 10 + [("see",)] * 10
    assert tune_cue(gold, scores, misleading) == 0.0


def test_the_component_raises_cited_scores_and_survives_disk(tmp_path: Path) -> None:
    nlp = build_pipeline(encoder=False)
    assert nlp.pipe_names[-1] == "article_cue"
    cue: ArticleCue = nlp.get_pipe("article_cue")  # type: ignore[assignment]
    assert cue.weight == 0.0  # untrained: leaves the scores alone
    doc = nlp.make_doc("Bitte löschen Sie alles nach Art. 17 DSGVO.")
    doc.cats = _one_hot("concern", 0.8)
    assert cue(doc).cats == _one_hot("concern", 0.8)
    assert doc._.cited_intents == ("delete",)
    set_cue(nlp, 0.5)
    doc.cats = _one_hot("concern", 0.8)
    assert cue(doc).cats["delete"] == pytest.approx(0.525)
    cue.to_disk(tmp_path / "cue")
    assert ArticleCue("article_cue", 0.0).from_disk(tmp_path / "cue").weight == 0.5
    (tmp_path / "cue" / "cue.json").write_text("{not json")
    with pytest.raises(ModelError, match="dsr train"):
        ArticleCue("article_cue", 0.0).from_disk(tmp_path / "cue")


def test_an_empty_text_keeps_no_scores() -> None:
    doc = spacy.blank("xx").make_doc("")
    assert ArticleCue("article_cue", 0.5)(doc).cats == {}


def test_the_shipped_model_reads_citations_with_its_tuned_weight(intent_model: IntentModel) -> None:
    assert intent_model.nlp.pipe_names[-1] == "article_cue"
    cue: ArticleCue = intent_model.nlp.get_pipe("article_cue")  # type: ignore[assignment]
    assert cue.weight == intent_model.meta["cue_weight"]
    mixer: EncoderTextCat = intent_model.nlp.get_pipe("encoder_textcat")  # type: ignore[assignment]
    doc = intent_model.nlp("Sehr geehrte Damen und Herren, ich verlange nach Art. 16 DSGVO ...")
    assert doc._.cited_intents == ("change",)
    share = mixer.weight_for(str(doc._.language))
    mixed = {
        label: share * doc._.cats_encoder[label] + (1 - share) * doc._.cats_lexical[label]
        for label in LABELS
    }
    assert doc.cats == pytest.approx(raise_cited(mixed, ("change",), cue.weight))
