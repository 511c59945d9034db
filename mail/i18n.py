# ruff: noqa: E501 -- a catalogue of sentences, one per line, is easier to review unwrapped
"""Languages of outgoing mail: choosing one, naming intents, fields and kept data, formatting
dates (Babel).

We answer in the 14 languages the classifier recognises; English is the fallback for any other.
Field and table names are those of the reference customer store (`storage/datamap.yaml`); a
name without a translation is shown as the data map gives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from babel.dates import format_date, format_time

LANGUAGES = ("en", "de", "nl", "sv", "fr", "es", "it", "pt", "ro", "pl", "ru", "cs", "hr", "el")
FALLBACK = "en"

INTENT_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "see": "access to your data",
        "change": "correction of your data",
        "delete": "erasure of your data",
        "concern": "a question or concern about how we use your data",
        "unsubscribe": "no further marketing e-mail",
        "other": "a general enquiry",
    },
    "nl": {
        "see": "inzage in uw gegevens",
        "change": "correctie van uw gegevens",
        "delete": "verwijdering van uw gegevens",
        "concern": "een vraag of bezwaar over het gebruik van uw gegevens",
        "unsubscribe": "geen marketingmails meer",
        "other": "een algemene vraag",
    },
    "de": {
        "see": "Auskunft über Ihre Daten",
        "change": "Berichtigung Ihrer Daten",
        "delete": "Löschung Ihrer Daten",
        "concern": "eine Frage oder Beschwerde zur Nutzung Ihrer Daten",
        "unsubscribe": "keine weiteren Werbe-E-Mails",
        "other": "eine allgemeine Anfrage",
    },
    "fr": {
        "see": "l'accès à vos données",
        "change": "la rectification de vos données",
        "delete": "l'effacement de vos données",
        "concern": "une question ou une réclamation sur l'utilisation de vos données",
        "unsubscribe": "l'arrêt des e-mails marketing",
        "other": "une demande générale",
    },
    "es": {
        "see": "el acceso a sus datos",
        "change": "la rectificación de sus datos",
        "delete": "la supresión de sus datos",
        "concern": "una pregunta o queja sobre el uso de sus datos",
        "unsubscribe": "no recibir más correos de marketing",
        "other": "una consulta general",
    },
    "sv": {
        "see": "tillgång till dina uppgifter",
        "change": "rättelse av dina uppgifter",
        "delete": "radering av dina uppgifter",
        "concern": "en fråga eller ett klagomål om hur vi använder dina uppgifter",
        "unsubscribe": "inga fler marknadsföringsmejl",
        "other": "en allmän fråga",
    },
    "it": {
        "see": "l'accesso ai suoi dati",
        "change": "la rettifica dei suoi dati",
        "delete": "la cancellazione dei suoi dati",
        "concern": "una domanda o un reclamo sull'uso dei suoi dati",
        "unsubscribe": "nessun'altra e-mail di marketing",
        "other": "una richiesta generale",
    },
    "pt": {
        "see": "o acesso aos seus dados",
        "change": "a retificação dos seus dados",
        "delete": "o apagamento dos seus dados",
        "concern": "uma pergunta ou reclamação sobre a utilização dos seus dados",
        "unsubscribe": "deixar de receber e-mails de marketing",
        "other": "um pedido geral",
    },
    "ro": {
        "see": "accesul la datele dumneavoastră",
        "change": "rectificarea datelor dumneavoastră",
        "delete": "ștergerea datelor dumneavoastră",
        "concern": "o întrebare sau o plângere privind utilizarea datelor dumneavoastră",
        "unsubscribe": "încetarea e-mailurilor de marketing",
        "other": "o solicitare generală",
    },
    "pl": {
        "see": "dostęp do Pana/Pani danych",
        "change": "sprostowanie Pana/Pani danych",
        "delete": "usunięcie Pana/Pani danych",
        "concern": "pytanie lub skargę dotyczącą wykorzystania Pana/Pani danych",
        "unsubscribe": "rezygnację z e-maili marketingowych",
        "other": "zapytanie ogólne",
    },
    "ru": {
        "see": "доступ к вашим данным",
        "change": "исправление ваших данных",
        "delete": "удаление ваших данных",
        "concern": "вопрос или жалобу об использовании ваших данных",
        "unsubscribe": "отказ от рекламных рассылок",
        "other": "общий вопрос",
    },
    "cs": {
        "see": "přístup k vašim údajům",
        "change": "opravu vašich údajů",
        "delete": "výmaz vašich údajů",
        "concern": "dotaz nebo stížnost ohledně používání vašich údajů",
        "unsubscribe": "ukončení marketingových e-mailů",
        "other": "obecný dotaz",
    },
    "hr": {
        "see": "pristup vašim podacima",
        "change": "ispravak vaših podataka",
        "delete": "brisanje vaših podataka",
        "concern": "pitanje ili pritužbu o korištenju vaših podataka",
        "unsubscribe": "prestanak marketinških e-poruka",
        "other": "opći upit",
    },
    "el": {
        "see": "πρόσβαση στα δεδομένα σας",
        "change": "διόρθωση των δεδομένων σας",
        "delete": "διαγραφή των δεδομένων σας",
        "concern": "ερώτηση ή παράπονο για τη χρήση των δεδομένων σας",
        "unsubscribe": "διακοπή των διαφημιστικών μηνυμάτων",
        "other": "γενικό ερώτημα",
    },
}
_AND = {
    "en": "and", "nl": "en", "de": "und", "fr": "et", "es": "y", "sv": "och", "it": "e",
    "pt": "e", "ro": "și", "pl": "i", "ru": "и", "cs": "a", "hr": "i", "el": "και",
}  # fmt: skip

#: The reference store's correctable fields, by language (`change_done`, the access report).
FIELD_NAMES: dict[str, dict[str, str]] = {
    "en": {"username": "username", "email": "e-mail address", "name": "name",
           "company": "company", "phone": "telephone number", "street": "street",
           "postal_code": "postal code", "city": "city", "country": "country"},
    "de": {"username": "Benutzername", "email": "E-Mail-Adresse", "name": "Name",
           "company": "Firma", "phone": "Telefonnummer", "street": "Straße",
           "postal_code": "Postleitzahl", "city": "Ort", "country": "Land"},
    "nl": {"username": "gebruikersnaam", "email": "e-mailadres", "name": "naam",
           "company": "bedrijf", "phone": "telefoonnummer", "street": "straat",
           "postal_code": "postcode", "city": "woonplaats", "country": "land"},
    "sv": {"username": "användarnamn", "email": "e-postadress", "name": "namn",
           "company": "företag", "phone": "telefonnummer", "street": "gatuadress",
           "postal_code": "postnummer", "city": "ort", "country": "land"},
    "fr": {"username": "nom d'utilisateur", "email": "adresse e-mail", "name": "nom",
           "company": "société", "phone": "numéro de téléphone", "street": "rue",
           "postal_code": "code postal", "city": "ville", "country": "pays"},
    "es": {"username": "nombre de usuario", "email": "correo electrónico", "name": "nombre",
           "company": "empresa", "phone": "número de teléfono", "street": "calle",
           "postal_code": "código postal", "city": "ciudad", "country": "país"},
    "it": {"username": "nome utente", "email": "indirizzo e-mail", "name": "nome",
           "company": "azienda", "phone": "numero di telefono", "street": "via",
           "postal_code": "codice postale", "city": "città", "country": "paese"},
    "pt": {"username": "nome de utilizador", "email": "endereço de e-mail", "name": "nome",
           "company": "empresa", "phone": "número de telefone", "street": "rua",
           "postal_code": "código postal", "city": "cidade", "country": "país"},
    "ro": {"username": "nume de utilizator", "email": "adresă de e-mail", "name": "nume",
           "company": "companie", "phone": "număr de telefon", "street": "stradă",
           "postal_code": "cod poștal", "city": "oraș", "country": "țară"},
    "pl": {"username": "nazwa użytkownika", "email": "adres e-mail", "name": "imię i nazwisko",
           "company": "firma", "phone": "numer telefonu", "street": "ulica",
           "postal_code": "kod pocztowy", "city": "miejscowość", "country": "kraj"},
    "ru": {"username": "имя пользователя", "email": "адрес электронной почты", "name": "имя",
           "company": "компания", "phone": "номер телефона", "street": "улица",
           "postal_code": "почтовый индекс", "city": "город", "country": "страна"},
    "cs": {"username": "uživatelské jméno", "email": "e-mailová adresa", "name": "jméno",
           "company": "firma", "phone": "telefonní číslo", "street": "ulice",
           "postal_code": "PSČ", "city": "město", "country": "země"},
    "hr": {"username": "korisničko ime", "email": "adresa e-pošte", "name": "ime",
           "company": "tvrtka", "phone": "broj telefona", "street": "ulica",
           "postal_code": "poštanski broj", "city": "grad", "country": "država"},
    "el": {"username": "όνομα χρήστη", "email": "διεύθυνση e-mail", "name": "ονοματεπώνυμο",
           "company": "εταιρεία", "phone": "αριθμός τηλεφώνου", "street": "οδός",
           "postal_code": "ταχυδρομικός κώδικας", "city": "πόλη", "country": "χώρα"},
}  # fmt: skip

#: The reference store's tables whose data an erasure may keep, and why, by language.
KEPT_DATA: dict[str, dict[str, tuple[str, str]]] = {
    "activity_log": {
        "en": ("Server and account activity log", "needed to meet legal obligations and to defend legal claims (Art. 17(3)(b) and (e) GDPR)"),
        "de": ("Server- und Kontoprotokoll", "zur Erfüllung rechtlicher Pflichten und zur Abwehr von Rechtsansprüchen erforderlich (Art. 17 Abs. 3 lit. b und e DSGVO)"),
        "nl": ("Server- en accountlogboek", "nodig om aan wettelijke verplichtingen te voldoen en om ons te verweren tegen rechtsvorderingen (art. 17, lid 3, onder b en e, AVG)"),
        "sv": ("Server- och kontologg", "behövs för att uppfylla rättsliga förpliktelser och för att försvara rättsliga anspråk (art. 17.3 b och e GDPR)"),
        "fr": ("Journal d'activité du serveur et du compte", "nécessaire pour respecter nos obligations légales et nous défendre en justice (art. 17, par. 3, b et e, RGPD)"),
        "es": ("Registro de actividad del servidor y de la cuenta", "necesario para cumplir obligaciones legales y defendernos de reclamaciones (art. 17.3.b y e RGPD)"),
        "it": ("Registro delle attività del server e dell'account", "necessario per adempiere obblighi di legge e difenderci in giudizio (art. 17, par. 3, lett. b ed e, GDPR)"),
        "pt": ("Registo de atividade do servidor e da conta", "necessário para cumprir obrigações legais e para nos defendermos em processos judiciais (art. 17.º, n.º 3, al. b e e, RGPD)"),
        "ro": ("Jurnalul de activitate al serverului și al contului", "necesar pentru îndeplinirea obligațiilor legale și pentru apărarea unor drepturi în instanță (art. 17 alin. (3) lit. (b) și (e) GDPR)"),
        "pl": ("Dziennik aktywności serwera i konta", "niezbędne do wypełnienia obowiązków prawnych i obrony przed roszczeniami (art. 17 ust. 3 lit. b i e RODO)"),
        "ru": ("Журнал активности сервера и учётной записи", "необходимо для выполнения юридических обязанностей и защиты от правовых претензий (ст. 17(3)(b) и (e) GDPR)"),
        "cs": ("Protokol činnosti serveru a účtu", "nutné ke splnění právních povinností a k obhajobě právních nároků (čl. 17 odst. 3 písm. b) a e) GDPR)"),
        "hr": ("Zapisnik aktivnosti poslužitelja i računa", "potrebno za ispunjavanje zakonskih obveza i obranu pravnih zahtjeva (čl. 17. st. 3. t. (b) i (e) GDPR-a)"),
        "el": ("Αρχείο δραστηριότητας διακομιστή και λογαριασμού", "απαραίτητο για την εκπλήρωση νομικών υποχρεώσεων και την υπεράσπιση νομικών αξιώσεων (άρθρο 17 παρ. 3 στοιχ. β και ε ΓΚΠΔ)"),
    },
    "invoice": {
        "en": ("Invoices", "tax and commercial law require invoices to be kept for ten years (Art. 17(3)(b) GDPR)"),
        "de": ("Rechnungen", "Steuer- und Handelsrecht verlangen, Rechnungen zehn Jahre aufzubewahren (Art. 17 Abs. 3 lit. b DSGVO, § 147 AO, § 257 HGB)"),
        "nl": ("Facturen", "fiscale en handelswetgeving verplichten ons facturen tien jaar te bewaren (art. 17, lid 3, onder b, AVG)"),
        "sv": ("Fakturor", "skatte- och bokföringsregler kräver att fakturor sparas i tio år (art. 17.3 b GDPR)"),
        "fr": ("Factures", "le droit fiscal et commercial impose de conserver les factures dix ans (art. 17, par. 3, b, RGPD)"),
        "es": ("Facturas", "la normativa fiscal y mercantil exige conservar las facturas diez años (art. 17.3.b RGPD)"),
        "it": ("Fatture", "la normativa fiscale e commerciale impone di conservare le fatture per dieci anni (art. 17, par. 3, lett. b, GDPR)"),
        "pt": ("Faturas", "a lei fiscal e comercial obriga a conservar as faturas durante dez anos (art. 17.º, n.º 3, al. b, RGPD)"),
        "ro": ("Facturi", "legislația fiscală și comercială impune păstrarea facturilor timp de zece ani (art. 17 alin. (3) lit. (b) GDPR)"),
        "pl": ("Faktury", "przepisy podatkowe i handlowe wymagają przechowywania faktur przez dziesięć lat (art. 17 ust. 3 lit. b RODO)"),
        "ru": ("Счета", "налоговое и торговое право требует хранить счета десять лет (ст. 17(3)(b) GDPR)"),
        "cs": ("Faktury", "daňové a obchodní právo vyžaduje uchovávat faktury deset let (čl. 17 odst. 3 písm. b) GDPR)"),
        "hr": ("Računi", "porezni i trgovački propisi zahtijevaju čuvanje računa deset godina (čl. 17. st. 3. t. (b) GDPR-a)"),
        "el": ("Τιμολόγια", "η φορολογική και εμπορική νομοθεσία απαιτεί τη διατήρηση των τιμολογίων για δέκα χρόνια (άρθρο 17 παρ. 3 στοιχ. β ΓΚΠΔ)"),
    },
}  # fmt: skip

#: What a challenge says was asked, per language, completing "Someone asked us to …" (or its
#: translation: "gevraagd om …", "gebeten, …", "de …", "que …"; ro and el repeat "să"/"να" in
#: every phrase; pl, cs and hr name the acts as nouns). `{old}`, `{new}`, `{fields}`.
ASKED: dict[str, dict[str, str]] = {
    "en": {
        "see": "send a copy of your personal data",
        "delete": "delete your account and your personal data",
        "change_email": "change the e-mail address of your account from {old} to {new}",
        "change": "change your {fields}",
        "change_any": "change your personal data",
        "unsubscribe": "stop sending you marketing e-mail",
        "other": "act on a request about your personal data",
        "restrict": "restrict the processing of your personal data (store it only, until the restriction is lifted)",
    },
    "nl": {
        "see": "een kopie van uw persoonsgegevens te sturen",
        "delete": "uw account en uw persoonsgegevens te verwijderen",
        "change_email": "het e-mailadres van uw account te wijzigen van {old} in {new}",
        "change": "uw {fields} te wijzigen",
        "change_any": "uw persoonsgegevens te wijzigen",
        "unsubscribe": "u geen marketingmails meer te sturen",
        "other": "een verzoek over uw persoonsgegevens uit te voeren",
        "restrict": "de verwerking van uw persoonsgegevens te beperken (alleen bewaren, tot de beperking wordt opgeheven)",
    },
    "de": {
        "see": "eine Kopie Ihrer personenbezogenen Daten zu senden",
        "delete": "Ihr Konto und Ihre personenbezogenen Daten zu löschen",
        "change_email": "die E-Mail-Adresse Ihres Kontos von {old} in {new} zu ändern",
        "change": "Folgendes zu ändern: {fields}",
        "change_any": "Ihre personenbezogenen Daten zu ändern",
        "unsubscribe": "Ihnen keine Werbe-E-Mails mehr zu senden",
        "other": "eine Anfrage zu Ihren personenbezogenen Daten auszuführen",
        "restrict": "die Verarbeitung Ihrer personenbezogenen Daten einzuschränken (nur speichern, bis die Einschränkung aufgehoben wird)",
    },
    "fr": {
        "see": "vous envoyer une copie de vos données personnelles",
        "delete": "supprimer votre compte et vos données personnelles",
        "change_email": "remplacer l'adresse e-mail de votre compte, {old}, par {new}",
        "change": "modifier les données suivantes : {fields}",
        "change_any": "modifier vos données personnelles",
        "unsubscribe": "ne plus vous envoyer d'e-mails marketing",
        "other": "donner suite à une demande concernant vos données personnelles",
        "restrict": "limiter le traitement de vos données personnelles (les conserver seulement, jusqu'à la levée de la limitation)",
    },
    "es": {
        "see": "le enviemos una copia de sus datos personales",
        "delete": "eliminemos su cuenta y sus datos personales",
        "change_email": "cambiemos la dirección de correo electrónico de su cuenta "
        "de {old} a {new}",
        "change": "cambiemos los siguientes datos: {fields}",
        "change_any": "cambiemos sus datos personales",
        "unsubscribe": "dejemos de enviarle correos de marketing",
        "other": "tramitemos una solicitud sobre sus datos personales",
        "restrict": "limitemos el tratamiento de sus datos personales (solo conservarlos hasta que "
        "se levante la limitación)",
    },
    "sv": {
        "see": "skicka en kopia av dina personuppgifter",
        "delete": "radera ditt konto och dina personuppgifter",
        "change_email": "ändra e-postadressen för ditt konto från {old} till {new}",
        "change": "ändra följande: {fields}",
        "change_any": "ändra dina personuppgifter",
        "unsubscribe": "sluta skicka marknadsföringsmejl till dig",
        "other": "genomföra en begäran om dina personuppgifter",
        "restrict": "begränsa behandlingen av dina personuppgifter (bara lagra dem tills begränsningen hävs)",
    },
    "it": {
        "see": "inviarle una copia dei suoi dati personali",
        "delete": "eliminare il suo account e i suoi dati personali",
        "change_email": "cambiare l'indirizzo e-mail del suo account da {old} a {new}",
        "change": "modificare i seguenti dati: {fields}",
        "change_any": "modificare i suoi dati personali",
        "unsubscribe": "non inviarle più e-mail di marketing",
        "other": "dare seguito a una richiesta relativa ai suoi dati personali",
        "restrict": "limitare il trattamento dei suoi dati personali (solo conservarli, fino alla revoca della limitazione)",
    },
    "pt": {
        "see": "lhe enviássemos uma cópia dos seus dados pessoais",
        "delete": "eliminássemos a sua conta e os seus dados pessoais",
        "change_email": "alterássemos o endereço de e-mail da sua conta de {old} para {new}",
        "change": "alterássemos os seguintes dados: {fields}",
        "change_any": "alterássemos os seus dados pessoais",
        "unsubscribe": "deixássemos de lhe enviar e-mails de marketing",
        "other": "déssemos seguimento a um pedido relativo aos seus dados pessoais",
        "restrict": "limitar o tratamento dos seus dados pessoais (apenas conservá-los até a limitação ser levantada)",
    },
    "ro": {
        "see": "să vă trimitem o copie a datelor dumneavoastră cu caracter personal",
        "delete": "să ștergem contul dumneavoastră și datele dumneavoastră cu caracter personal",
        "change_email": "să schimbăm adresa de e-mail a contului dumneavoastră din {old} în {new}",
        "change": "să modificăm următoarele date: {fields}",
        "change_any": "să modificăm datele dumneavoastră cu caracter personal",
        "unsubscribe": "să nu vă mai trimitem e-mailuri de marketing",
        "other": "să dăm curs unei solicitări privind datele dumneavoastră cu caracter personal",
        "restrict": "să restricționăm prelucrarea datelor dumneavoastră personale (doar stocarea lor, până la ridicarea restricției)",
    },
    "pl": {
        "see": "przesłanie kopii Pana/Pani danych osobowych",
        "delete": "usunięcie Pana/Pani konta i danych osobowych",
        "change_email": "zmianę adresu e-mail Pana/Pani konta z {old} na {new}",
        "change": "zmianę następujących danych: {fields}",
        "change_any": "zmianę Pana/Pani danych osobowych",
        "unsubscribe": "zaprzestanie wysyłania Panu/Pani e-maili marketingowych",
        "other": "realizację żądania dotyczącego Pana/Pani danych osobowych",
        "restrict": "ograniczyć przetwarzanie Pana/Pani danych osobowych (tylko przechowywać je do zniesienia ograniczenia)",
    },
    "ru": {
        "see": "отправить вам копию ваших персональных данных",
        "delete": "удалить вашу учётную запись и ваши персональные данные",
        "change_email": "изменить адрес электронной почты вашей учётной записи с {old} на {new}",
        "change": "изменить следующие данные: {fields}",
        "change_any": "изменить ваши персональные данные",
        "unsubscribe": "больше не присылать вам маркетинговые письма",
        "other": "выполнить запрос, касающийся ваших персональных данных",
        "restrict": "ограничить обработку ваших персональных данных (только хранить их до снятия ограничения)",
    },
    "cs": {
        "see": "zaslání kopie vašich osobních údajů",
        "delete": "smazání vašeho účtu a vašich osobních údajů",
        "change_email": "změnu e-mailové adresy vašeho účtu z {old} na {new}",
        "change": "změnu těchto údajů: {fields}",
        "change_any": "změnu vašich osobních údajů",
        "unsubscribe": "ukončení zasílání marketingových e-mailů",
        "other": "vyřízení žádosti týkající se vašich osobních údajů",
        "restrict": "omezit zpracování vašich osobních údajů (pouze je uchovávat, dokud omezení nebude zrušeno)",
    },
    "hr": {
        "see": "slanje kopije vaših osobnih podataka",
        "delete": "brisanje vašeg korisničkog računa i vaših osobnih podataka",
        "change_email": "promjenu adrese e-pošte vašeg korisničkog računa s {old} na {new}",
        "change": "promjenu sljedećih podataka: {fields}",
        "change_any": "promjenu vaših osobnih podataka",
        "unsubscribe": "prestanak slanja marketinških poruka e-pošte",
        "other": "postupanje po zahtjevu u vezi s vašim osobnim podacima",
        "restrict": "ograničiti obradu vaših osobnih podataka (samo ih pohranjivati dok se ograničenje ne ukine)",
    },
    "el": {
        "see": "να σας στείλουμε αντίγραφο των προσωπικών σας δεδομένων",
        "delete": "να διαγράψουμε τον λογαριασμό σας και τα προσωπικά σας δεδομένα",
        "change_email": "να αλλάξουμε τη διεύθυνση e-mail του λογαριασμού σας από {old} σε {new}",
        "change": "να αλλάξουμε τα εξής στοιχεία: {fields}",
        "change_any": "να αλλάξουμε τα προσωπικά σας δεδομένα",
        "unsubscribe": "να σταματήσουμε να σας στέλνουμε διαφημιστικά e-mail",
        "other": "να διεκπεραιώσουμε ένα αίτημα σχετικά με τα προσωπικά σας δεδομένα",
        "restrict": "να περιορίσουμε την επεξεργασία των προσωπικών σας δεδομένων (μόνο αποθήκευση, μέχρι να αρθεί ο περιορισμός)",
    },
}


def pick_language(tag: str | None) -> str:
    """Our template language for a language tag like `de-AT` or `FR`; English when unknown."""
    if not tag:
        return FALLBACK
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else FALLBACK


def join_list(items: Iterable[str], lang: str) -> str:
    """ "a, b and c" in the given language."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {_AND.get(lang, 'and')} {words[-1]}"


def intent_names(labels: Iterable[str], lang: str) -> str:
    """The intents of a case as words, e.g. "access to your data and erasure of your data"."""
    names = INTENT_NAMES.get(lang, INTENT_NAMES[FALLBACK])
    return join_list((names.get(label, label) for label in labels), lang)


def field_name(field: str, lang: str) -> str:
    """A store field's name in `lang` ("phone" → "Telefonnummer"); unknown names as given."""
    return FIELD_NAMES.get(lang, FIELD_NAMES[FALLBACK]).get(field, field)


def kept_data(table: str, lang: str, what: str, why: str) -> tuple[str, str]:
    """The title of a table an erasure kept and the reason, in `lang` when we have them;
    otherwise the data map's own `what` and `why`."""
    return KEPT_DATA.get(table, {}).get(lang) or (what, why)


def long_date(value: date, lang: str) -> str:
    """A date written out: "29 December 2026", "29. Dezember 2026", ...

    Raises:
        TypeError: `value` is not a date (a template was given a string: see `mail.context`).
    """
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    if not isinstance(value, date):
        raise TypeError(f"long_date needs a date, got {type(value).__name__}")
    return str(format_date(value, "long", locale=lang))


def long_datetime(value: datetime, lang: str) -> str:
    """A moment in UTC: "29 December 2026, 14:05 UTC" (24-hour clock in every language)."""
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return f"{long_date(moment.date(), lang)}, {format_time(moment, 'HH:mm', locale=lang)} UTC"


def asked_text(asks: Iterable[Mapping[str, object]], lang: str) -> str:
    """What a challenge says was asked, e.g. "delete your account and your personal data".

    Args:
        asks: one mapping per thing asked: `kind` (see, delete, change, change_email,
            unsubscribe, other), and for changes `fields` (column names) or `old`/`new`.
    """
    phrases = ASKED.get(lang, ASKED[FALLBACK])
    names = FIELD_NAMES.get(lang, FIELD_NAMES[FALLBACK])
    out = []
    for ask in asks:
        kind = str(ask.get("kind", "other"))
        fields = [str(f) for f in ask.get("fields", ()) or ()]  # type: ignore[attr-defined]
        out.append(
            phrases.get(kind, phrases["other"]).format(
                old=ask.get("old", ""),
                new=ask.get("new", ""),
                fields=join_list((names.get(f, f) for f in fields), lang),
            )
        )
    return join_list(out, lang)
