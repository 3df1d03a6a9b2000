"""People in a table: person names, street addresses and dates of birth (the part of
`mlqa.pii` that reasons about whole columns rather than single patterns).

What a column is called and what its values look like both count, as in Microsoft
Presidio's recognisers (PERSON, LOCATION/address, DATE_TIME as a date of birth), but
without a language model: Presidio finds names with spaCy's NER, mlqa with a names
dictionary and the shape of the values, which is cheap and deterministic on tables.

- **Names dictionary**: the first and last names of every locale of Faker's person
  providers (`faker.providers.person.<locale>`: en_US, en_GB, de_DE, fr_FR, es_ES, it_IT,
  pt_BR, nl_NL, pl_PL, sv_SE, tr_TR and ~75 more), casefolded into two frozensets, loaded
  on first use and cached for the process (about half a second, once).
- **Column names** are read in their common forms in several languages, after
  normalising (`FirstName`, `first-name`, `Prénom` → `first_name`, `prenom`).
  `name` alone is a person's name; `<who>_name` is one when `<who>` is a person
  (`customer_name`, `patient_name`, `first_name`); other `*_name` columns are not
  (`product_name`, `model_name`, `file_name`, `hostname`), and neither are handles
  (`username`, `user_name`, `nickname`, `screen_name`): a login is an identifier the
  user declares in `data.personal`, not a name.
- **Values**: a person's name is 2 to 4 capitalised words (titles, initials and
  particles such as `van der` aside) with one word in the first-name dictionary and another
  in the last-name dictionary, and no word of a place (`San`, `Santa`, `Fort`, `New`,
  `City`, ...): `Jane Doe`, `DOE, Jane`, `Hans-Peter von Müller`. A column holds names when
  at least 3 in 10 of its rows (judged on a sample of distinct values) are names (in a column
  named like a name column single first or last names count too); a column of single first
  names under another name when nine in ten of 30 or more distinct values are first names.
- **Street addresses**: a house number with one to four capitalised words and a street
  type (`12 Baker Street`, `0487 Hull Village`), a street type word or ending with its
  number (`Hauptstraße 5`, `Karl-Marx-Allee 27/68`, `Keizersgracht 12`, `Järnvägsvägen 7`,
  `Calle Mayor 5`, `Via Roma 10`, `Rua das Flores, 123`, `ul. Klonowa 876`), or a French
  number-first form (`45, rue de Carre`).
- **Dates of birth**: a column named like one (`dob`, `birth_date`, `geburtsdatum`,
  `fecha_nacimiento`, ...) whose values are dates, or any column of day-precise dates that
  all fall between 1900 and ten years ago and spread over 15 years or more.

Limitations: names in scripts without capital letters (Chinese, Japanese, Arabic,
Hebrew, Thai, ...) and names written all in lower case are found only by the column's
name; single-word names in free text are not found; a name made only of words no Faker
locale lists is missed (the column is still found when 3 in 10 of its rows are known names);
addresses without a house number or street type (`The Old Rectory`, PO boxes) are missed;
a column of historical dates that all look like birth dates (a founding date) is reported
as dates of birth — declare it in `allow_columns`.
"""
from __future__ import annotations

import datetime as _dt
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

# ---------------------------------------------------------------- the names dictionary
_NAME_LISTS = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
               "last_names", "last_names_male", "last_names_female", "last_names_nonbinary")


@functools.lru_cache(maxsize=1)
def name_dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) of every locale of Faker's person providers, casefolded.
    Loaded once per process; Faker is imported here, not before."""
    import importlib
    import pkgutil

    import faker.providers.person as people
    first: set[str] = set()
    last: set[str] = set()
    for info in pkgutil.iter_modules(people.__path__):
        provider = importlib.import_module(f"{people.__name__}.{info.name}").Provider
        for attr in _NAME_LISTS:
            names = vars(provider).get(attr, getattr(provider, attr, None))
            if isinstance(names, dict):
                names = names.keys()
            if not isinstance(names, (tuple, list, set, frozenset, type({}.keys()))):
                continue  # (a locale that computes its list)
            words = first if attr.startswith("first") else last
            for name in map(str, names):
                words.add(name.casefold())
                if " " in name:  # `van Vliet`, `da Silva`: the name without its particles too
                    words.update(w.casefold() for w in name.split() if not w[:1].islower())
    return frozenset(first), frozenset(last)


# ---------------------------------------------------------------- column names
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(column: str) -> str:
    """`FirstName`, `first-name`, `First Name`, `Prénom` → `first_name`, `prenom`."""
    text = unicodedata.normalize("NFKD", _CAMEL.sub("_", str(column)))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("ß", "ss")
    return _NON_WORD.sub("_", text.casefold()).strip("_")


#: one word that says "a person's name" on its own, in several languages
_NAME_WORDS = frozenset("""
    firstname firstnames lastname lastnames fullname surname surnames givenname givennames
    familyname middlename maidenname forename forenames personname
    nombre nombres apellido apellidos nombrecompleto
    prenom prenoms nomdefamille nomcomplet
    vorname vornamen nachname familienname
    cognome nominativo
    sobrenome nomecompleto
    voornaam voornamen achternaam
    nazwisko imie imiona
    fornamn efternamn fornavn etternavn efternavn mellomnavn
    etunimi sukunimi jmeno prijmeni soyad soyadi soyisim
""".split())
#: of those, the ones that hold first names only (a single first name is a finding there)
_FIRST_WORDS = frozenset("""firstname firstnames givenname givennames forename forenames nombre
    nombres prenom prenoms vorname vornamen voornaam voornamen imie imiona fornamn fornavn
    etunimi jmeno""".split())
#: "name" in several languages, a person's name when alone or after a person word
_NAME_NOUNS = frozenset("name names nom nome naam navn namn nimi".split())
#: words before `name` that make it a person's name (`customer_name`, `first_name`)
_PERSON_WORDS = frozenset("""
    first last full given family middle maiden birth legal sur fore christian person persons
    customer customers client clients patient patients employee employees staff contact member
    holder cardholder account applicant owner student driver passenger guest buyer seller
    recipient sender beneficiary insured policyholder borrower tenant doctor physician mother
    father parent spouse child emergency teacher author signer signatory
""".split())
_FIRST_QUALIFIERS = frozenset({"first", "given", "fore", "christian"})
_WHOLE_NAMES = frozenset({"name", "names", "first", "last", "nom", "nome", "naam", "navn", "namn", "nimi"})
_WHOLE_FIRST = frozenset({"first"})

_ADDRESS_WORDS = frozenset("""address addresses addr street streetaddress addressline addressline1
    addressline2 zip zipcode postcode postalcode adresse anschrift strasse hausnummer direccion domicilio
    indirizzo endereco adres straat woonplaats adresa ulica""".split())
_ADDRESS_PAIRS = (("address", "line"), ("postal", "code"), ("zip", "code"), ("post", "code"),
                  ("house", "number"), ("street", "name"), ("street", "address"), ("home", "address"),
                  ("mailing", "address"), ("billing", "address"), ("shipping", "address"))
_NOT_ADDRESS = frozenset({"ip", "email", "mail", "mac", "web", "url", "wallet", "memory", "ipv4", "ipv6"})

_DOB_WORDS = frozenset("""dob birthdate birthday birthdays geburtsdatum geburtstag nacimiento naissance
    nascita nascimento geboortedatum urodzenia fodelsedatum fodselsdato dogum syntymaaika""".split())
_NOT_DOB = frozenset({"place", "country", "city", "town", "weight", "order", "rank", "rate",
                      "lugar", "pais", "lieu", "luogo", "ort", "land", "year", "month", "registration"})


def column_kind(column: str) -> str | None:
    """What a column's name says it holds: `first name`, `name`, `address`, `dob`, or None.
    (`first name` is a column of first names: a single first name counts as a name there.)"""
    norm = normalise(column)
    if not norm:
        return None
    tokens = norm.split("_")
    joined = norm.replace("_", "")
    if norm in _WHOLE_NAMES or joined in _NAME_WORDS:
        return "first name" if norm in _WHOLE_FIRST or joined in _FIRST_WORDS else "name"
    for i, tok in enumerate(tokens):
        if tok in _NAME_WORDS:
            return "first name" if tok in _FIRST_WORDS else "name"
        if tok in _NAME_NOUNS and i > 0 and tokens[i - 1] in _PERSON_WORDS:
            return "first name" if tokens[i - 1] in _FIRST_QUALIFIERS else "name"
    if not _NOT_DOB.intersection(tokens):
        if _DOB_WORDS.intersection(tokens) or any(w in joined for w in ("dateofbirth", "birthdate", "geburtsdatum")):
            return "dob"
        if "birth" in tokens and ({"date", "day", "dt", "d"} & set(tokens) or norm == "birth") or norm == "born":
            return "dob"
        if any(t in ("nacimiento", "naissance", "nascita", "nascimento") for t in tokens):
            return "dob"
    if not _NOT_ADDRESS.intersection(tokens):
        if _ADDRESS_WORDS.intersection(tokens) or joined in _ADDRESS_WORDS:
            return "address"
        if any(a in tokens and b in tokens for a, b in _ADDRESS_PAIRS):
            return "address"
    return None


# ---------------------------------------------------------------- person names in values
_SPLIT = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*\Z")
_PARTICLES = frozenset("""van von der den de del della degli dei di da das do dos du la le les y e
    zu zur ter ten bin ibn ben bint al el of""".split())
_TITLES = frozenset("""mr mrs ms miss mx dr prof sir dame lord lady herr frau sr sra srta sig sigra
    dott dottssa don dona doña m mme mlle pan pani jr snr ii iii iv md phd dds dvm esq rev fr""".split())
#: words of place names, never of a person's name in a table
_PLACE_WORDS = frozenset("""san santa santo sao são saint st ste sainte fort ft mount mt port puerto porto
    new north south east west northern southern eastern western upper lower lake city bay beach
    island islands isle valley springs spring falls heights county republic united kingdom states
    state province district river hills hill park village town borough rio río los las el la le
    del de nueva nuevo grand great little glen land""".split())


def _tokens(text: str) -> list[str] | None:
    """The words of a name-shaped text (titles, initials and lower-case particles dropped),
    or None when some word is not a capitalised word of letters."""
    text = text.strip()
    if not text or len(text) > 60:
        return None
    if text.count(",") == 1:  # `Doe, Jane`
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    out = []
    for raw in _SPLIT.split(text.strip()):
        word = raw.strip(",")
        if not word:
            continue
        bare = word.rstrip(".").casefold()
        if word.endswith(".") or bare in _TITLES:
            continue  # a title or an initial (`Dr.`, `J.`, `B.Eng.`)
        if bare in _PARTICLES and word[0].islower():
            continue
        if not _WORD.match(word) or not word[0].isupper():
            return None
        out.append(word.casefold())
    return out


def _known(word: str, names: frozenset[str]) -> bool:
    return word in names or ("-" in word and all(p in names for p in word.split("-")))


def is_name(text: str, *, single: bool = False) -> bool:
    """Whether `text` is a person's full name (with `single`: or a single first or last name)."""
    words = _tokens(text)
    if not words or len(words) > 4 or _PLACE_WORDS.intersection(words):
        return False
    first, last = name_dictionary()
    if len(words) == 1:
        return single and (_known(words[0], first) or _known(words[0], last))
    firsts = [i for i, w in enumerate(words) if _known(w, first)]
    if not firsts:
        return False
    return any(_known(w, last) and (i != firsts[0] or len(firsts) > 1) for i, w in enumerate(words))


def is_first_name(text: str) -> bool:
    """A single capitalised word in the first-name dictionary (`Jane`, `Hans-Peter`)."""
    words = _tokens(text)
    return bool(words) and len(words) == 1 and words[0] not in _PLACE_WORDS \
        and _known(words[0], name_dictionary()[0])


#: a column holds names when this share of its rows (in the sampled distinct values) are names
NAME_SHARE = 0.3
#: ... and there are at least this many distinct names
MIN_NAMES = 5
#: a column of single first names, not named like one: this share of ...
FIRST_SHARE = 0.9
#: ... at least this many distinct values
MIN_FIRST_NAMES = 30


def name_values(texts: Sequence[str], column_kind: str | None = None,
                rows: Sequence[int] | None = None) -> list[str]:
    """The values of `texts` (distinct values of one column, each standing for `rows` rows)
    that make it a column of person names, or [] when it is not one."""
    named = column_kind in ("name", "first name")
    weights = list(rows) if rows is not None else [1] * len(texts)
    hits = [is_name(t, single=named) for t in texts]
    names = [t for t, hit in zip(texts, hits, strict=True) if hit]
    named_rows = sum(w for w, hit in zip(weights, hits, strict=True) if hit)
    if len(names) >= min(MIN_NAMES, len(texts)) and named_rows >= NAME_SHARE * sum(weights):
        return names
    if len(texts) >= MIN_FIRST_NAMES:
        firsts = [t for t in texts if is_first_name(t)]
        if len(firsts) >= FIRST_SHARE * len(texts):
            return firsts
    return []


# ---------------------------------------------------------------- street addresses
_EN_TYPES = """Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|
    Terrace|Ter|Way|Parkway|Pkwy|Highway|Hwy|Alley|Aly|Circle|Cir|Close|Crescent|Cres|Crest|Crossing|Cove|
    Expressway|Expy|Freeway|Fwy|Gardens|Garden|Gate|Glen|Green|Grove|Harbor|Harbour|Heights|Hts|Hill|Hollow|
    Island|Isle|Junction|Jct|Landing|Loop|Mall|Manor|Meadows|Meadow|Mews|Mill|Mount|Oval|Park|Pass|Path|
    Pike|Plaza|Plz|Point|Port|Ridge|Route|Rte|Row|Run|Summit|Trail|Trl|Turnpike|Tpke|Valley|View|Village|
    Vista|Walk|Wharf|Wynd|Brook|Bridge|Bypass|Canyon|Cape|Causeway|Cliff|Cliffs|Common|Corner|Creek|Curve|
    Dale|Dam|Estate|Estates|Extension|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Forest|Forge|Fork|Forks|Fort|
    Haven|Inlet|Knoll|Knolls|Lake|Lakes|Lodge|Motorway|Neck|Orchard|Overpass|Prairie|Ranch|Rapids|River|
    Shoal|Shore|Shores|Skyway|Springs|Spur|Stravenue|Stream|Throughway|Trace|Track|Trafficway|Tunnel|
    Underpass|Ville|Wells|Ways|Courts|Squares|Roads|Streets|Avenues|Lanes|Drives|Places|Parks|Ridges|Hills"""
_STREET_ENDINGS = """straße|strasse|str\\.|weg|gasse|allee|platz|damm|ufer|chaussee|steig|straat|laan|gracht|
    kade|singel|plein|steeg|dijk|boulevard|vägen|gatan|gränd|torget|stigen|vej|veien|gata"""
_PREFIX_TYPES = """Calle|C/|Avenida|Avda\\.?|Paseo|Plaza|Camino|Carrera|Cañada|Alameda|Ronda|Rambla|Pasaje|
    Travesía|Via|Viale|Piazza|Piazzale|Corso|Vicolo|Largo|Strada|Rua|Travessa|Praça|Rodovia|Estrada|
    Avenue|ul\\.|ulica|Ulica|al\\.|aleja|Aleja|plac|Plac|os\\."""
_FR_TYPES = "rue|avenue|av\\.|boulevard|bd|place|chemin|allée|impasse|quai|route|cours|passage|square"


def _alt(words: str) -> str:
    return "|".join(w.strip() for w in words.replace("\n", "").split("|"))


_NUM = r"\d{1,6}[A-Za-z]?"
_CAP = r"[^\W\d_][\w'’.-]*"
ADDRESS = re.compile(
    # 12 Baker Street / 0487 Hull Village Suite 759 / 11 Jones Courts
    rf"(?<![\w.,/-]){_NUM},?\s+(?:(?=[A-Z]){_CAP}\s+){{1,4}}(?:{_alt(_EN_TYPES)})\.?(?![\w-])"
    # Hauptstraße 5 / Karl-Marx-Allee 27/68 / Berliner Straße 12a / Järnvägsvägen 7
    rf"|(?<![\w-])(?=[A-ZÄÖÜÅ])[\w'’.-]*?(?i:{_alt(_STREET_ENDINGS)})\s+\d{{1,5}}(?:\s?[a-zA-Z])?(?:\s?[/-]\s?\d{{1,5}})?(?![\w])"
    # Calle Mayor 5 / Via Roma, 10 / Rua das Flores, 123 / ul. Klonowa 876
    rf"|(?<![\w.])(?<!et )(?:{_alt(_PREFIX_TYPES)})\s+(?:[\w'’.-]+\s+){{0,5}}?(?=[^\W\d_])[\w'’.-]+,?\s+(?:n[º°o.]\s*)?\d{{1,5}}(?![\w])"
    # 45, rue de Carre / 12 bis avenue Foch
    rf"|(?<![\w.,/-])\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?:{_FR_TYPES})\s+(?:(?:d[eu]|des|de la|l')\s*)?(?=[A-ZÀ-Ý])\w")


def mask_address(text: str) -> str:
    """`12 Baker Street` → `## B*** S***`."""
    out = []
    for word in text.split():
        if word[:1].isdigit():
            out.append("#" * min(len(word), 4))
        else:
            out.append(word[0] + "***")
    return " ".join(out)


def mask_name(text: str) -> str:
    """`Jane Doe` → `J*** D***`."""
    return " ".join(w[0] + "***" for w in text.split() if w)


# ---------------------------------------------------------------- dates of birth
_DATE = re.compile(r"\s*(?:(?P<y1>\d{4})[-/.](?P<m1>\d{1,2})[-/.](?P<d1>\d{1,2})"
                   r"|(?P<d2>\d{1,2})[-/.](?P<m2>\d{1,2})[-/.](?P<y2>\d{4}))"
                   r"(?:[T ]00:00(?::00(?:\.0+)?)?)?\s*\Z")
#: the earliest plausible year of birth in a table of living people or records about them
FIRST_BIRTH_YEAR = 1900
#: a birth date is at least this many years ago
MIN_AGE_YEARS = 10
#: a column of birth dates spreads over at least this many years ...
MIN_SPAN_YEARS = 15
#: ... and has at least this many distinct days
MIN_DATES = 20


def _date(text: str) -> _dt.date | None:
    m = _DATE.match(text)
    if m is None:
        return None
    g = m.groupdict()
    y, mo, d = (g["y1"], g["m1"], g["d1"]) if g["y1"] else (g["y2"], g["m2"], g["d2"])
    y, mo, d = int(y), int(mo), int(d)
    if not g["y1"] and mo > 12 and d <= 12:  # month/day/year
        mo, d = d, mo
    try:
        return _dt.date(y, mo, d)
    except ValueError:
        return None


def parse_dates(texts: Iterable[str]) -> list[_dt.date | None]:
    """Calendar dates (`1984-03-07`, `07/03/1984`, `07.03.1984`, with a midnight time) or None."""
    return [_date(t) for t in texts]


def birth_dates(dates: Sequence[_dt.date | None], *, named: bool, today: _dt.date | None = None) -> bool:
    """Whether these (distinct) values of a column are dates of birth: nineteen in twenty
    parse as dates and, for a column not named like one, every date lies between
    1900 and ten years ago, over at least 15 years and 20 distinct days."""
    if not dates:
        return False
    good = [d for d in dates if d is not None]
    if len(good) < 0.95 * len(dates) or not good:
        return False
    if named:
        return True
    today = today or _dt.date.today()
    latest = _dt.date(today.year - MIN_AGE_YEARS, today.month, min(today.day, 28))
    lo, hi = min(good), max(good)
    return (len(good) == len(dates) and len(set(good)) >= MIN_DATES and lo.year >= FIRST_BIRTH_YEAR
            and hi <= latest and hi.year - lo.year >= MIN_SPAN_YEARS)


def mask_date(text: str) -> str:
    """`1984-03-07` → `19**-**-**` (the century only)."""
    d = _date(text)
    return f"{str(d.year)[:2]}**-**-**" if d is not None else "<date of birth>"
