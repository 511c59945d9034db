"""Messages in 20 of our languages get their intent (or a review that names their language);
messages in languages we do not understand go to a human, labelled with their language."""

import pytest

from intents import Intent, IntentModel, classify, load_model
from intents.classify import UNKNOWN_LANGUAGE

OURS = [
    ("en", "Please delete my account and all the personal data you hold about me.", Intent.DELETE),
    (
        "de",
        "Bitte schicken Sie mir eine Kopie aller Daten, die Sie über mich gespeichert haben.",
        Intent.SEE,
    ),
    (
        "fr",
        "Je ne veux plus recevoir votre newsletter, merci de me désinscrire.",
        Intent.UNSUBSCRIBE,
    ),
    ("es", "Quiero una copia de todos los datos personales que tienen sobre mí.", Intent.SEE),
    ("it", "Vi chiedo di cancellare il mio account e tutti i miei dati personali.", Intent.DELETE),
    (
        "nl",
        "Mijn adres is veranderd, wilt u het aanpassen naar Dorpsstraat 4 in Utrecht?",
        Intent.CHANGE,
    ),
    ("pt", "Por favor, apaguem a minha conta e todos os meus dados pessoais.", Intent.DELETE),
    ("pl", "Proszę o usunięcie mojego konta i wszystkich moich danych osobowych.", Intent.DELETE),
    ("cs", "Prosím o kopii všech osobních údajů, které o mně zpracováváte.", Intent.SEE),
    ("ru", "Прошу удалить мою учетную запись и все мои персональные данные.", Intent.DELETE),
    (
        "el",
        "Παρακαλώ διαγράψτε τον λογαριασμό μου και όλα τα προσωπικά μου δεδομένα.",
        Intent.DELETE,
    ),
    ("hr", "Molim vas da obrišete moj račun i sve moje osobne podatke.", Intent.DELETE),
    (
        "ro",
        "Vă rog să îmi trimiteți o copie a datelor personale pe care le dețineți despre mine.",
        Intent.SEE,
    ),
    (
        "sv",
        "Jag vill inte längre få ert nyhetsbrev, avregistrera mig från listan.",
        Intent.UNSUBSCRIBE,
    ),
    ("zh", "请删除我的账户以及你们保存的所有个人信息。", Intent.DELETE),
    ("ja", "私のアカウントと個人データをすべて削除してください。", Intent.DELETE),
    ("tr", "Hesabımı ve tüm kişisel verilerimi silmenizi rica ediyorum.", Intent.DELETE),
    ("bg", "Моля, изтрийте профила ми и всички мои лични данни.", Intent.DELETE),
    ("uk", "Прошу надати мені копію всіх моїх персональних даних, які ви зберігаєте.", Intent.SEE),
    (
        "da",
        "Jeg ønsker ikke længere at modtage jeres nyhedsbrev. Afmeld mig venligst.",
        Intent.UNSUBSCRIBE,
    ),
]

FOREIGN = [
    ("th", "กรุณาลบบัญชีของฉันและข้อมูลส่วนตัวทั้งหมดของฉัน"),
    ("vi", "Vui lòng xóa tài khoản của tôi và tất cả dữ liệu cá nhân của tôi."),
    ("id", "Tolong hapus akun saya dan semua data pribadi saya."),
    ("hi", "कृपया मेरा खाता और मेरा सारा निजी डेटा हटा दें।"),
    ("he", "אנא מחקו את החשבון שלי ואת כל המידע האישי שלי."),
    ("et", "Palun kustutage minu konto ja kõik minu isikuandmed."),
    ("lv", "Lūdzu, izdzēsiet manu kontu un visus manus personas datus."),
    ("sw", "Tafadhali futa akaunti yangu na data yangu yote ya kibinafsi."),
    ("is", "Vinsamlegast eyðið aðganginum mínum og öllum persónuupplýsingum mínum."),
    ("fa", "لطفا حساب کاربری من و تمام اطلاعات شخصی من را حذف کنید."),
]


@pytest.fixture(scope="module")
def shipped() -> IntentModel:
    return load_model()


@pytest.mark.parametrize(("lang", "text", "intent"), OURS, ids=[x[0] for x in OURS])
def test_our_languages(shipped: IntentModel, lang: str, text: str, intent: Intent) -> None:
    result = classify(shipped, text)
    assert result.language == lang
    if result.needs_review:
        assert result.review_reason  # a review always says why
    else:
        assert result.intent is intent


def test_most_of_our_languages_are_decided_right(shipped: IntentModel) -> None:
    results = [classify(shipped, text) for _, text, _ in OURS]
    right = sum(r.intent is intent for r, (_, _, intent) in zip(results, OURS, strict=True))
    assert right >= 18


@pytest.mark.parametrize(("lang", "text"), FOREIGN, ids=[x[0] for x in FOREIGN])
def test_foreign_languages_go_to_a_human_with_their_language(
    shipped: IntentModel, lang: str, text: str
) -> None:
    result = classify(shipped, text)
    assert result.needs_review and result.review_reason == UNKNOWN_LANGUAGE
    assert result.language == lang
    assert result.intents == ()  # no guess


def test_the_gate_names_at_least_fifty_languages(shipped: IntentModel) -> None:
    gate = shipped.nlp.get_pipe("language_gate")
    assert len(gate.languages) >= 50  # type: ignore[attr-defined]
    assert set(shipped.meta["test"]) >= {"macro_f1"}
