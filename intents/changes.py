# ruff: noqa: E501 -- word lists per language read best one list to a line
"""Find requested data changes ("my new address is …", "correct my surname to …") in the 14
languages we answer in: en de nl sv fr es it pt ro pl ru cs hr el.

Pure regular expressions over the text; fields use the reference customer store's names. Each
language gives its words for the fields and five small word lists (new/correct, change verbs,
"to", "is", "should be"); the same sentence shapes are built from them for every language:

    new:        "my NEW field IS value"        "the field CORRECT IS value"
    imperative: "CHANGE my field (from x) TO value"   "my field CHANGE TO value" (nl, de word order)
    problem:    "field … SHOULD BE value"      "CHANGE my field: value"

E-mail addresses and phone numbers are taken by their own shape wherever they follow the field
("please correct it: jane@example.com"); an address "Street 1, 12345 City" becomes street,
postal_code and city. `tests/bench/bench_changes.py` measures it per language and field.
"""

import re
from dataclasses import dataclass
from functools import cache

#: Characters of a message searched for changes.
LIMIT = 6_000


@dataclass(frozen=True)
class _Lang:
    """One language's words (regular expressions, matched case-insensitively on word bounds)."""

    fields: tuple[tuple[str, str], ...]  # (words, store field); longer phrases first
    new: str  # new / correct / right
    verbs: str  # change / correct / update …
    to: str  # the word before the new value after a verb
    be: str  # is / reads
    should: str  # should be / must be
    renamed: str = "(?!)"  # "is now called" (company names); nothing by default


_EN = _Lang(
    fields=(
        (r"company name|name of (?:the|my|our) company|company|firm", "company"),
        (r"e-?mail address|e-?mail|mail address", "email"),
        (
            r"(?:tele)?phone number|mobile(?: phone)? number|cell(?: phone)? number|phone|telephone|mobile",
            "phone",
        ),
        (r"postal code|post ?code|zip(?: code)?", "postal_code"),
        (r"user ?name", "username"),
        (r"(?:full |last |first |family |sur)?name", "name"),
        (r"(?:postal |home |street )?address|street", "street"),
        (r"city|town", "city"),
        (r"country", "country"),
    ),
    new=r"new|correct|right|updated|proper",
    verbs=r"chang\w*|correct\w*|updat\w*|amend\w*|fix\w*|modif\w*|edit\w*|replac\w*|set",
    to=r"to|into|with|as",
    be=r"is(?: now)?|has changed to|should read|reads|will be|is actually",
    should=r"should be|must be|needs to be|ought to be|has to be",
    renamed=r"is now called|is now named|has been renamed(?: to)?|was renamed(?: to)?",
)
_DE = _Lang(
    fields=(
        (r"firmenname\w*|name (?:der|unserer|meiner) firma|firma|unternehmen\w*", "company"),
        (r"e-?mail-?adresse|e-?mail adresse|e-?mail|mailadresse", "email"),
        (r"telefonnummer|handynummer|mobilnummer|rufnummer|telefon|handy", "phone"),
        (r"postleitzahl|plz", "postal_code"),
        (r"benutzername\w*", "username"),
        (r"nachname\w*|familienname\w*|vorname\w*|name\w*", "name"),
        (r"adresse|anschrift|straße|strasse|wohnadresse", "street"),
        (r"wohnort|stadt|ort", "city"),
        (r"land", "country"),
    ),
    new=r"neue[rsn]?|korrekte[rsn]?|richtige[rsn]?|aktuelle[rsn]?",
    verbs=r"änder\w*|aender\w*|korrigier\w*|berichtig\w*|aktualisier\w*|ersetz\w*|abänder\w*|umschreib\w*|anpass\w*",
    to=r"auf|in|zu|durch|mit",
    be=r"lautet(?: jetzt| nun| richtig| korrekt)?|ist(?: jetzt| nun)?|heißt(?: jetzt)?",
    should=r"richtig (?:ist|wäre|lautet)|korrekt (?:ist|wäre|lautet)|sollte\w* (?:\w+ )?lauten|muss (?:\w+ )?lauten",
    renamed=r"heißt (?:jetzt|nun|ab sofort)|wurde umbenannt in|firmiert (?:jetzt |nun )?(?:als|unter)",
)
_NL = _Lang(
    fields=(
        (r"bedrijfsnaam|naam van (?:het|ons|mijn) bedrijf|bedrijf", "company"),
        (r"e-?mailadres|e-?mail|mailadres", "email"),
        (r"telefoonnummer|mobiele nummer|gsm-nummer|mobiel nummer|telefoon", "phone"),
        (r"postcode", "postal_code"),
        (r"gebruikersnaam", "username"),
        (r"achternaam|voornaam|familienaam|naam", "name"),
        (r"adres|straat", "street"),
        (r"woonplaats|plaats|stad", "city"),
        (r"land", "country"),
    ),
    new=r"nieuwe?|juiste?|correcte?|goede?",
    verbs=r"wijzig\w*|corrigeer\w*|corrigeren|verander\w*|pas \w+ aan|aanpassen|bijwerken|werk \w+ bij|vervang\w*",
    to=r"in|naar|aan naar|door",
    be=r"is(?: nu)?|luidt|wordt",
    should=r"(?:het )?moet|zou \w+ moeten zijn",
    renamed=r"heet (?:nu|voortaan)|is hernoemd (?:naar|tot)",
)
_SV = _Lang(
    fields=(
        (r"företagsnamn\w*|företag\w*|bolag\w*|firma\w*", "company"),
        (r"e-?postadress\w*|e-?post|e-?mailadress\w*|e-?mail|mejladress\w*|mejl", "email"),
        (r"telefonnummer\w*|mobilnummer\w*|mobiltelefon|telefon|mobil", "phone"),
        (r"postnummer", "postal_code"),
        (r"användarnamn\w*", "username"),
        (r"efternamn\w*|förnamn\w*|namn\w*", "name"),
        (r"adress\w*|gatuadress\w*", "street"),
        (r"ort|stad", "city"),
        (r"land", "country"),
    ),
    new=r"ny\w*|rätt\w*|korrekt\w*|riktig\w*",
    verbs=r"ändra\w*|rätta\w*|uppdatera\w*|korrigera\w*|byt\w*|ersätt\w*",
    to=r"till|mot",
    be=r"är(?: nu)?|blir",
    should=r"ska vara|skall vara|bör vara|borde vara|ska det vara",
    renamed=r"heter (?:nu|numera)|har bytt namn till",
)
_FR = _Lang(
    fields=(
        (
            r"nom de (?:la|notre|ma) société|nom de (?:l'|notre |mon )entreprise|société|entreprise|raison sociale",
            "company",
        ),
        (r"adresse (?:e-?mail|électronique|mail|courriel)|e-?mail|courriel", "email"),
        (r"numéro de (?:téléphone|portable|mobile)|téléphone|portable|numéro", "phone"),
        (r"code postal", "postal_code"),
        (r"nom d'utilisateur|identifiant", "username"),
        (r"nom de famille|nom de jeune fille|prénom|nom", "name"),
        (r"adresse postale|adresse|rue", "street"),
        (r"ville|commune", "city"),
        (r"pays", "country"),
    ),
    new=r"nouve(?:au|l|lle)|bon(?:ne)?|correcte?|exacte?|vrai(?:e)?",
    verbs=r"corrig\w*|modifi\w*|chang\w*|remplac\w*|mettre à jour|mettez à jour|rectifi\w*|actualis\w*",
    to=r"en|par|pour|à|avec",
    be=r"est(?: désormais| maintenant| à présent)?|sera|devient",
    should=r"il faut mettre|il faudrait mettre|devrait être|doit être|c'est",
    renamed=r"s'appelle (?:désormais|maintenant|dorénavant)|a été renommée? en",
)
_ES = _Lang(
    fields=(
        (r"nombre de (?:la |nuestra |mi )?empresa|empresa|compañía|razón social", "company"),
        (r"correo electrónico|dirección de correo(?: electrónico)?|e-?mail|correo", "email"),
        (r"número de (?:teléfono|móvil|celular)|teléfono|móvil|celular", "phone"),
        (r"código postal", "postal_code"),
        (r"nombre de usuario|usuario", "username"),
        (r"apellidos?|nombre(?: completo)?", "name"),
        (r"dirección(?: postal)?|domicilio|calle", "street"),
        (r"ciudad|localidad|población", "city"),
        (r"país", "country"),
    ),
    new=r"nuev[oa]|correct[oa]|buen[oa]|verdader[oa]",
    verbs=r"cambi\w*|corrij\w*|correg\w*|modifi\w*|actualic\w*|actualiz\w*|rectifi\w*|sustitu\w*",
    to=r"a|por|en|con",
    be=r"es(?: ahora)?|ahora es|será",
    should=r"debería ser|debe ser|tendría que ser|tiene que ser",
    renamed=r"se llama ahora|ahora se llama|ha cambiado de nombre a",
)
_IT = _Lang(
    fields=(
        (
            r"nome (?:della (?:nostra )?|dell')azienda|ragione sociale|azienda|società|ditta",
            "company",
        ),
        (r"indirizzo (?:e-?mail|di posta elettronica)|e-?mail|posta elettronica", "email"),
        (r"numero di (?:telefono|cellulare)|telefono|cellulare|numero", "phone"),
        (r"codice postale|cap", "postal_code"),
        (r"nome utente", "username"),
        (r"cognome|nome(?: completo)?", "name"),
        (r"indirizzo|via|residenza", "street"),
        (r"città|comune", "city"),
        (r"paese|nazione", "country"),
    ),
    new=r"nuov[oa]|corrett[oa]|giust[oa]|esatt[oa]",
    verbs=r"modific\w*|cambi\w*|corregg\w*|aggiorn\w*|rettific\w*|sostitu\w*",
    to=r"in|con|a|per",
    be=r"è(?: ora| adesso)?|sarà|diventa",
    should=r"dovrebbe essere|deve essere|va cambiat\w* in",
    renamed=r"si chiama ora|ora si chiama|è stata rinominata in",
)
_PT = _Lang(
    fields=(
        (r"nome da (?:nossa |minha )?empresa|empresa|companhia|firma", "company"),
        (
            r"endereço de (?:e-?mail|correio eletrónico|correio eletrônico)|e-?mail|correio eletrónico",
            "email",
        ),
        (r"número de (?:telefone|telemóvel|celular)|telefone|telemóvel|celular", "phone"),
        (r"código postal|cep", "postal_code"),
        (r"nome de utilizador|nome de usuário", "username"),
        (r"apelido|sobrenome|nome(?: completo)?", "name"),
        (r"morada|endereço|rua", "street"),
        (r"cidade|localidade", "city"),
        (r"país", "country"),
    ),
    new=r"nov[oa]|corret[oa]|certo|certa|exat[oa]",
    verbs=r"alter\w*|corrij\w*|corrig\w*|atualiz\w*|mud\w*|modifi\w*|retifi\w*|substitu\w*",
    to=r"para|por|em|a",
    be=r"é(?: agora)?|passa a ser|será",
    should=r"deveria ser|deve ser|devia ser|tem de ser",
    renamed=r"chama-se agora|agora chama-se|passou a chamar-se",
)
_RO = _Lang(
    fields=(
        (
            r"nume(?:le)? (?:al )?(?:firmei|companiei)(?: noastre| mele)?|firm\w*|compani\w*|societ\w*",
            "company",
        ),
        (r"adres\w*(?: mea| dumneavoastră)? de e-?mail|e-?mail", "email"),
        (r"număr\w*(?: meu)? de (?:telefon|mobil)|telefon\w*|mobil", "phone"),
        (r"cod(?:ul)? poștal", "postal_code"),
        (r"nume(?:le)? de utilizator", "username"),
        (r"nume(?:le)?(?: meu)? de familie|prenume(?:le)?|nume(?:le)?", "name"),
        (r"adres\w*|strad\w*", "street"),
        (r"oraș\w*|localitate\w*", "city"),
        (r"țar\w*", "country"),
    ),
    new=r"no(?:ul|ua|u|ă)|nou\w*|corect\w*|bun\w*",
    verbs=r"modific\w*|schimb\w*|corect\w*|actualiz\w*|înlocu\w*|rectific\w*",
    to=r"în|la|cu|pe",
    be=r"este(?: acum)?|e|va fi",
    should=r"ar trebui să fie|trebuie să fie",
)
_PL = _Lang(
    fields=(
        (r"nazw\w* (?:naszej |mojej )?firmy|firm\w*|przedsiębiorstw\w*", "company"),
        (r"adres\w* e-?mail|e-?mail\w*|adres\w* poczty elektronicznej", "email"),
        (r"numer\w* (?:telefonu|komórki|komórkowy)|telefon\w*|komórk\w*", "phone"),
        (r"kod\w* pocztow\w*", "postal_code"),
        (r"nazw\w* użytkownika|login\w*", "username"),
        (r"nazwisk\w*|imi\w* i nazwisk\w*|imi\w*", "name"),
        (r"adres\w*|ulic\w*", "street"),
        (r"miejscowoś\w*|miast\w*", "city"),
        (r"kraj\w*", "country"),
    ),
    new=r"now\w*|prawidłow\w*|poprawn\w*|właściw\w*|aktualn\w*",
    verbs=r"zmieni\w*|zmień\w*|zmian\w*|popraw\w*|zaktualizow\w*|aktualizow\w*|skoryg\w*|sprostow\w*|zastąp\w*",
    to=r"na",
    be=r"to|jest|brzmi",
    should=r"powin\w* być|ma być|musi być",
)
_RU = _Lang(
    fields=(
        (r"названи\w* (?:нашей |моей )?компании|компани\w*|организаци\w*|фирм\w*", "company"),
        (r"адрес\w* электронной почты|электронн\w* почт\w*|e-?mail|имейл|почт\w*", "email"),
        (r"номер\w*(?: телефона| мобильного)?|телефон\w*|мобильн\w*", "phone"),
        (r"почтов\w* индекс\w*|индекс\w*", "postal_code"),
        (r"им\w* пользователя|логин\w*", "username"),
        (r"фамили\w*|им\w*|отчеств\w*", "name"),
        (r"адрес\w*|улиц\w*", "street"),
        (r"город\w*", "city"),
        (r"стран\w*", "country"),
    ),
    new=r"нов\w*|правильн\w*|верн\w*|корректн\w*|актуальн\w*",
    verbs=r"измени\w*|исправ\w*|обнови\w*|замени\w*|поменя\w*|скорректир\w*",
    to=r"на",
    be=r"—|-|это|теперь|будет|является|(?=\s)",  # Russian often leaves "is" out
    should=r"должн\w* быть|должно быть|следует указать|нужно указать",
)
_CS = _Lang(
    fields=(
        (r"název (?:naší |mé )?firmy|firm\w*|společnost\w*", "company"),
        (r"e-?mailov\w* adres\w*|e-?mail\w*|adres\w* elektronické pošty", "email"),
        (r"telefonní\w* čísl\w*|čísl\w* telefonu|telefon\w*|mobil\w*|čísl\w*", "phone"),
        (r"psč|poštovní směrovací číslo", "postal_code"),
        (r"uživatelské jméno", "username"),
        (r"příjmení|jméno|jména", "name"),
        (r"adres\w*|ulic\w*", "street"),
        (r"měst\w*|obec", "city"),
        (r"zem\w*|stát\w*", "country"),
    ),
    new=r"nov\w*|správn\w*|aktuální\w*|platn\w*",
    verbs=r"změň\w*|změni\w*|změn\w*|oprav\w*|aktualizuj\w*|uprav\w*|nahraď\w*",
    to=r"na",
    be=r"je(?: nyní| teď)?|zní",
    should=r"má být|mělo by být|měl\w* by být|musí být",
)
_HR = _Lang(
    fields=(
        (r"naziv (?:naše |moje )?tvrtke|tvrtk\w*|poduzeć\w*|firm\w*", "company"),
        (r"adres\w* e-pošte|e-?mail adres\w*|e-?mail\w*|e-pošt\w*", "email"),
        (r"broj\w* (?:telefona|mobitela|mobilnog)|telefon\w*|mobitel\w*", "phone"),
        (r"poštanski broj", "postal_code"),
        (r"korisničko ime", "username"),
        (r"prezime\w*|ime\w*", "name"),
        (r"adres\w*|ulic\w*", "street"),
        (r"grad\w*|mjest\w*", "city"),
        (r"držav\w*|zemlj\w*", "country"),
    ),
    new=r"nov\w*|ispravn\w*|točn\w*|pravilno\w*|pravi\w*",
    verbs=r"promijeni\w*|ispravi\w*|ažurira\w*|izmijeni\w*|zamijeni\w*",
    to=r"u|na",
    be=r"je(?: sada)?|glasi",
    should=r"treba biti|trebao bi biti|trebala bi biti|mora biti",
)
_EL = _Lang(
    fields=(
        (r"επωνυμία (?:της )?εταιρείας|επωνυμία|εταιρεία\w*|εταιρία\w*", "company"),
        (
            r"διεύθυνση (?:email|e-mail|ηλεκτρονικού ταχυδρομείου)|e-?mail|ηλεκτρονικ\w* ταχυδρομ\w*",
            "email",
        ),
        (r"αριθμ\w* (?:τηλεφώνου|του κινητού(?: μου)?|κινητού)|τηλέφωνο\w*|κινητό\w*", "phone"),
        (r"ταχυδρομικ\w* κώδικ\w*|τ\.κ\.", "postal_code"),
        (r"όνομα χρήστη", "username"),
        (r"επώνυμ\w*|ονοματεπώνυμ\w*|όνομ\w*|ονομ\w*", "name"),
        (r"διεύθυνσ\w*|οδ\w*", "street"),
        (r"πόλη\w*", "city"),
        (r"χώρα\w*", "country"),
    ),
    new=r"νέ\w*|νε\w*|σωστ\w*|ορθ\w*|καινούρ\w*",
    verbs=r"αλλάξ\w*|αλλαγ\w*|διορθώ\w*|διόρθω\w*|ενημερώ\w*|τροποποι\w*|αντικατασ\w*",
    to=r"σε|σε:|με|στο|στη|στην|ως",
    be=r"είναι(?: πλέον| τώρα)?|θα είναι",
    should=r"θα έπρεπε να είναι|πρέπει να είναι|έπρεπε να είναι",
)
LANGUAGES: dict[str, _Lang] = {
    "en": _EN, "de": _DE, "nl": _NL, "sv": _SV, "fr": _FR, "es": _ES, "it": _IT,
    "pt": _PT, "ro": _RO, "pl": _PL, "ru": _RU, "cs": _CS, "hr": _HR, "el": _EL,
}  # fmt: skip

#: What may stand between the field and its connector, and between "from x" and "to": no
#: sentence end, but dots inside values ("alt@example.de", "Morava s.r.o. na", "ul. Starej 1").
_GAP = r"[^\n.!?:]{0,30}?"
_SPAN = r"(?:\b\w{{1,3}}\.\s|[^\n.!?]|\.(?=\S|\s+[a-zà-ÿа-яα-ωäöüßøåæœšžčćđłńśźżęąěřůýíéáúó]))"
_VALUE = r"\s*(?:the |le |la |el |il |o |a )?[\"'“„«]?(?P<value>[^\n]{1,200})"
_SHAPES = (
    r"\b(?:{new})\b[^\n.!?:]{{0,40}}?\b(?P<field>{f})\b{gap}(?:\b(?:{be})\b\s*:?|:)",
    r"\b(?P<field>{f})\b[^\n.!?:]{{0,30}}?\b(?:{new})\b[^\n.!?:]{{0,12}}?(?:\b(?:{be})\b\s*:?|:)",
    r"\b(?:{verbs})\b[^\n.!?]{{0,40}}?\b(?P<field>{f})\b{span}{{0,80}}?\b(?:{to})\b\s*:?",
    r"\b(?P<field>{f})\b\s+(?:{to})\b(?=[^\n]{{1,80}}?\b(?:zu |te )?(?:{verbs})\b)",
    r"\b(?P<field>{f})\b\s+(?:{renamed})\b",
    r"\b(?P<field>{f})\b{gap}\b(?:{verbs})\b\s+(?:{to})\b",
    r"\b(?P<field>{f})\b[^\n.!?]{{0,60}}?\b(?:{should})\b",
    r"\b(?:{verbs}|{new})\b[^\n.!?:]{{0,60}}?\b(?P<field>{f})\b[^\n.!?:]{{0,30}}:",
    # e-mail and phone only (their values have a shape): "my e-mail. Please correct it: …"
    r"\b(?P<field>{f})\b[^\n]{{0,80}}?\b(?:{verbs})\b[^\n:]{{0,30}}:",
)
_TYPED_ONLY = len(_SHAPES) - 1
# Words that end a free-text value (names, streets, companies): conjunctions, thanks, reasons.
_CUT = re.compile(
    r"[.!?;](?:\s+(?-i:(?=[A-ZÀ-ÝĀ-ſΑ-ΩА-Я]))|\s*$)|[\"”“»]|\s+(?:and|und|en|et|y|och|e|și|i|и|a|και|"
    r"please|bitte|merci|thanks|thank you|danke|gracias|bedankt|dank u|grazie|obrigad[oa]|"
    r"mulțumesc|dziękuję|спасибо|děkuji|hvala|ευχαριστώ|tack|since|because|as of|from now|weil|"
    r"seit|da ich|omdat|sinds|parce que|depuis|porque|desde|perché|dato che|deoarece|ponieważ|"
    r"так как|protože|jer|επειδή|zijn|sein|ist|zu sein|sein\.)\b|\s+(?:zu |te )?(?:ändern|"
    r"korrigieren|berichtigen|aktualisieren|abändern|wijzigen|aanpassen|corrigeren|veranderen)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[A-Za-z]{2,24}")
_PHONE = re.compile(r"\+?\(?\d[\d\s().\-/]{4,22}\d")
_POSTAL = (
    r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # UK
    r"|\d{4} ?[A-Z]{2}(?=\s)"  # NL
    r"|\d{2}-\d{3}|\d{4}-\d{3}"  # PL, PT
    r"|\d{3} \d{2}(?=\s)"  # SE, CZ, GR
    r"|[A-Z]{1,2}-\d{4,5}|\d{4,6}"
)
_ADDRESS = re.compile(rf"^(?P<street>[^,\n]{{2,80}}?),\s*(?P<postal>{_POSTAL})\s+(?P<city>[^,\n]+)")


@cache
def _mentions() -> list[re.Pattern[str]]:
    """Per language, its field words alone: a language whose words are absent is skipped."""
    return [
        re.compile(r"\b(?:" + "|".join(f"(?:{w})" for w, _ in lang.fields) + r")\b", re.I)
        for lang in LANGUAGES.values()
    ]


@cache
def _patterns() -> list[tuple[re.Pattern[str], dict[str, str]]]:
    built = []
    for lang in LANGUAGES.values():
        alternation = "|".join(f"(?:{words})" for words, _ in lang.fields)
        names = {words: field for words, field in lang.fields}
        for shape in _SHAPES:
            regex = shape.format(
                f=alternation,
                new=lang.new,
                verbs=lang.verbs,
                to=lang.to,
                be=lang.be,
                should=lang.should,
                renamed=lang.renamed,
                gap=_GAP,
                span=_SPAN.format(),
            )
            built.append((re.compile(regex + _VALUE, re.IGNORECASE), names))
    return built


@cache
def _field_matchers() -> dict[int, list[tuple[re.Pattern[str], str]]]:
    """Per pattern, which of its field phrases a matched field text belongs to."""
    out: dict[int, list[tuple[re.Pattern[str], str]]] = {}
    for i, (_, names) in enumerate(_patterns()):
        out[i] = [(re.compile(f"(?:{w})$", re.IGNORECASE), f) for w, f in names.items()]
    return out


def _field_of(index: int, text: str) -> str:
    for matcher, field in _field_matchers()[index]:
        if matcher.match(text):
            return field
    return ""


_ABBREVIATION = re.compile(r"\w\.\w{1,3}\.$")  # B.V., S.r.l., d.o.o., Α.Ε. keep their dot


def _clean(value: str) -> str:
    match = _CUT.search(value)
    if match:
        value = value[: match.start()]
    value = value.strip(" \t,:;'\"“”„«»").rstrip(".") + ("." if _ABBREVIATION.search(value) else "")
    return value.strip(" \t,:;'\"“”„«»").strip()


def _value(field: str, raw: str) -> list[tuple[str, str]]:
    """The (field, value) pairs one match stands for; empty when the value has the wrong shape."""
    if field == "email":
        found = _EMAIL.search(raw)
        return [("email", found.group(0).rstrip("."))] if found else []
    if field == "phone":
        found = _PHONE.search(raw)
        return [("phone", found.group(0).strip())] if found else []
    if field in {"street", "postal_code", "city"}:
        address = _ADDRESS.match(raw.strip())
        if address:
            return [
                ("street", address["street"].strip()),
                ("postal_code", address["postal"]),
                ("city", _clean(address["city"])),
            ]
    if field in {"name", "company"}:
        raw = re.split(r"[,;]\s", raw)[0]
    value = _clean(raw)
    if not value or len(value.split()) > 8 or "@" in value:
        return []  # a sentence (or an address of another kind), not a value
    return [(field, value)]


def find_changes(text: str) -> list[tuple[str, str]]:
    """Every (field, new value) pair stated in the text, in order of appearance, without repeats.

    An address value "Street 1, 12345 City" becomes street, postal_code and city pairs.

    Args:
        text: the message (only the first 6,000 characters are searched: a correction is stated
            at the top, and 126 patterns over a hostile 20,000-character word soup took a second).

    Returns:
        ``[(field, value), ...]`` with store field names; the first value found for a field wins.
    """
    text = text[:LIMIT]
    found: list[tuple[int, int, str, str]] = []
    present = [bool(m.search(text)) for m in _mentions()]
    for index, (pattern, _) in enumerate(_patterns()):
        if not present[index // len(_SHAPES)]:
            continue
        for match in pattern.finditer(text):
            field = _field_of(index, match.group("field"))
            if index % len(_SHAPES) == _TYPED_ONLY and field not in {"email", "phone"}:
                continue
            for order, pair in enumerate(_value(field, match.group("value")) if field else []):
                found.append((match.start("field"), order, *pair))
    pairs: list[tuple[str, str]] = []
    for _, _, field, value in sorted(found):
        if all(f != field for f, _ in pairs):
            pairs.append((field, value))
    return pairs
