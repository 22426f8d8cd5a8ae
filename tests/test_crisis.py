"""Crisis detection: positives and near-misses in all six languages, guards, normalisation, files."""

from __future__ import annotations

import csv
import pickle
import shutil
from pathlib import Path

import pytest
import yaml

from bot.nlu import crisis
from bot.nlu.crisis import CATEGORIES, LEXICON_DIR, CrisisDetector, CrisisRules, normalise

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector()


def _rows(name: str) -> list[tuple[str, str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["lang"], r["label"], r["text"]) for r in reader]


DEV = _rows("crisis_dev.tsv") + _rows("crisis_dev2.tsv")


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, label, text in DEV if label == "crisis"])
def test_crisis_messages_are_flagged(detector: CrisisDetector, lang: str, text: str) -> None:
    assert detector.is_crisis(text, lang)
    assert detector.is_crisis(text)  # the language guess may be wrong or missing


@pytest.mark.parametrize(("lang", "text"), [(lang, text) for lang, label, text in DEV if label == "near_miss"])
def test_near_misses_are_not_flagged(detector: CrisisDetector, lang: str, text: str) -> None:
    assert not detector.is_crisis(text, lang), detector.match(text, lang)
    assert not detector.is_crisis(text), detector.match(text)


@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [
        ("en", "I want to kill myself", "self_harm"),
        ("en", "my husband beats me", "violence"),
        ("en", "I can't find my son anywhere, he is 6", "child"),
        ("en", "my father is not breathing", "medical"),
        ("en", "the kitchen is on fire", "fire"),
        ("en", "a man with a knife is at our door", "threat"),
        ("fi", "haluan kuolla", "self_harm"),
        ("fi", "mieheni lyö minua", "violence"),
        ("fi", "vauva ei hengitä", "medical"),
        ("fi", "asunnossa on tulipalo", "fire"),
        ("ru", "хочу покончить с собой", "self_harm"),
        ("ru", "муж бьет меня", "violence"),
        ("ru", "у нас пожар", "fire"),
        ("ar", "بدي اقتل حالي", "self_harm"),
        ("ar", "زوجي يضربني", "violence"),
        ("ar", "في حريق بالبيت", "fire"),
        ("so", "waxaan doonayaa inaan is dilo", "self_harm"),
        ("so", "ninkaygu wuu i garaacaa", "violence"),
        ("so", "ilmaha ma neefsanayo", "medical"),
        ("sw", "nataka kujiua", "self_harm"),
        ("sw", "mume wangu ananipiga", "violence"),
        ("sw", "mtoto hapumui", "medical"),
        ("sw", "kuna moto jikoni", "fire"),
    ],
)
def test_categories(detector: CrisisDetector, lang: str, text: str, category: str) -> None:
    assert detector.category(text, lang) == category


# Found by driving the bot as families would (QA, 2026-11-30): each was missed before.
@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [
        ("en", "I want to die", "self_harm"),
        ("ar", "لا أحد سيفتقدني لو رحلت", "self_harm"),
        ("ar", "badi mout", "self_harm"),
        ("ar", "ibni ma 3am yetnaffas", "medical"),
        ("ru", "muzh menya byot", "violence"),
        ("ru", "ya hochu umeret", "self_harm"),
        ("ru", "rebenok ne dyshit", "child"),
    ],
)
def test_crises_found_by_qa_are_flagged(detector: CrisisDetector, lang: str, text: str, category: str) -> None:
    assert detector.category(text, lang) == category


# A second QA round (2026-11-30): Arabic in Latin letters as Gulf, Levantine, Egyptian and Maghrebi
# families write it; a child who does not wake up or is lost, in Finnish and Somali and then in every
# language. Each QA message was missed before; the others are variants written to check that the
# patterns generalise. Flagged with the language as hint and without one.
QA_CRISES: list[tuple[str, str, str]] = [
    # Arabizi, from QA
    ("ar", "abi amoot", "self_harm"),
    ("ar", "ana abgha amoot", "self_harm"),
    ("ar", "abgha amoot", "self_harm"),
    ("ar", "bghit nmout", "self_harm"),
    ("ar", "ana ta3ban w abi amoot", "self_harm"),
    ("ar", "abi antahir", "self_harm"),
    ("ar", "badi entehar", "self_harm"),
    ("ar", "zawji yadrabni", "violence"),
    ("ar", "zawji yedrebni", "violence"),
    ("ar", "zawjy darabni", "violence"),
    ("ar", "abuy yedrebni", "violence"),
    ("ar", "binti da3at", "child"),
    ("ar", "ibni shireb dawa", "child"),
    ("ar", "ana bdi mout", "self_harm"),
    ("ar", "zawji yadrebni kol yom", "violence"),
    # Arabizi, variants
    ("ar", "aby amoot wallah", "self_harm"),
    ("ar", "abghi amout", "self_harm"),
    ("ar", "kanbghi nmout", "self_harm"),
    ("ar", "ana 3ayez amoot", "self_harm"),
    ("ar", "3ayza amoot khalas", "self_harm"),
    ("ar", "nefsi amoot", "self_harm"),
    ("ar", "n7eb nmout", "self_harm"),
    ("ar", "bedde mout", "self_harm"),
    ("ar", "ana badi moooot", "self_harm"),
    ("ar", "bdi ento7er", "self_harm"),
    ("ar", "fakart fel inti7ar", "self_harm"),
    ("ar", "bghit nt7ar", "self_harm"),
    ("ar", "ra7 a2tol 7ali", "self_harm"),
    ("ar", "bdi 2otol nafsi", "self_harm"),
    ("ar", "ma bdi 3ish", "self_harm"),
    ("ar", "mabadi 3eesh aktar", "self_harm"),
    ("ar", "mish 3ayza a3ish", "self_harm"),
    ("ar", "mabghitch n3ich", "self_harm"),
    ("ar", "ta3abt mn el 7aya", "self_harm"),
    ("ar", "zawji bi-yedrabni kol yom", "violence"),
    ("ar", "jozi 3am yedrobni", "violence"),
    ("ar", "rajli ydrbni", "violence"),
    ("ar", "zoji yazrabni", "violence"),
    ("ar", "zawji kaydrbni", "violence"),
    ("ar", "howa bidrabni", "violence"),
    ("ar", "baba darabni mbare7", "violence"),
    ("ar", "akhoi darabni w taradni", "violence"),
    ("ar", "mama darabatni", "violence"),
    ("ar", "zawji khana2ni", "violence"),
    ("ar", "ibni da3 fi el souq", "child"),
    ("ar", "binti dayi3a mn 3 sa3at", "child"),
    ("ar", "waladi mafqud", "child"),
    ("ar", "da3 ibni fi el mall", "child"),
    ("ar", "daya3t binti fi el souq", "child"),
    ("ar", "mish la2ya binti", "child"),
    ("ar", "ibni ma la2ito", "child"),
    ("ar", "wldi twedder", "child"),
    ("ar", "ibni ma shofto mn 3 sa3at", "child"),
    ("ar", "binti shirbat klor", "child"),
    ("ar", "el walad bala3 7boub", "child"),
    ("ar", "ibni bala3 batariya", "child"),
    ("ar", "shireb klorox", "medical"),
    ("ar", "ibni ma 3am yes7a", "medical"),
    ("ar", "binti 7rartha 40 w ma 3am tes7a", "medical"),
    ("ar", "zawji ghayeb 3an el wa3i", "medical"),
    ("ar", "ma 2dirt sa77ih", "medical"),
    # Arabic script
    ("ar", "ابني حرارته عالية وما عم يصحى", "medical"),
    ("ar", "ابني حرارته ٤٠ ومش قادر يصحى", "medical"),
    ("ar", "بنتي حرارتها مرتفعة ولا تستيقظ", "medical"),
    ("ar", "ما قدرت صحي ابني", "medical"),
    ("ar", "ابني ضايع من 3 ساعات", "child"),
    ("ar", "ضاع ابني في السوق", "child"),
    # Finnish: the QA message, then variants
    ("fi", "lapsella kova kuume eikä herää kunnolla, mitä teen", "medical"),
    ("fi", "vauvalla on 40 astetta kuumetta eikä se herää", "medical"),
    ("fi", "poika on tosi veltto ja kuumeinen eikä meinaa herätä", "medical"),
    ("fi", "lapsella korkea kuume ja hän on tosi unelias, ei herää kunnolla", "medical"),
    ("fi", "tyttö ei reagoi mihinkään ja kuumetta on 40", "medical"),
    ("fi", "en saa lasta hereille", "medical"),
    ("fi", "en saa vauvaa heräämään", "medical"),
    ("fi", "mieheni ei herää vaikka ravistan", "medical"),
    ("fi", "tyttäreni on hukassa kaupassa", "child"),
    ("fi", "lapseni on eksynyt metsään", "child"),
    ("fi", "lapsi eksyi kaupassa enkä löydä häntä", "child"),
    ("fi", "poikaa ei ole näkynyt kolmeen tuntiin", "child"),
    ("fi", "5-vuotias lähti ulos eikä ole palannut, kolme tuntia", "child"),
    # Somali: the QA messages, then variants
    ("so", "ilmahaygu qandho badan ayuu qabaa mana soo jeedo", "medical"),
    ("so", "ilmahaygii wuu lumay 3 saac ma arkin", "child"),
    ("so", "ilmahaygii wuu lumay", "child"),
    ("so", "ilmaha qandho kulul ayuu qabaa mana toosayo", "medical"),
    ("so", "wiilkayga ma soo toosayo, qandho ayuu qabaa", "medical"),
    ("so", "gabadhayda ma toosin karo", "medical"),
    ("so", "canugga waan toosin kari waayay", "medical"),
    ("so", "wiilkaygii waa la waayay", "child"),
    ("so", "gabadhaydii way lumtay", "child"),
    ("so", "ilmaheygu wuu lumay suuqa", "child"),
    ("so", "ilmahayga ma arko meelna", "child"),
    ("so", "wiilkayga 3 saac ma arag", "child"),
    ("so", "gabadhayda waan waayay", "child"),
    # English, Russian, Swahili: the same situations in other words
    ("en", "my child isn't waking up properly", "medical"),
    ("en", "I can't wake my son up", "medical"),
    ("en", "baby has high fever and is hard to wake", "medical"),
    ("en", "my daughter is burning hot and not waking up", "medical"),
    ("en", "I lost my daughter at the mall", "child"),
    ("en", "haven't seen my son for 3 hours, he is 7", "child"),
    ("en", "my kid is lost", "child"),
    ("en", "my daughter is lost, I can't find her", "child"),
    ("ru", "ребенок с температурой 40 не может проснуться", "medical"),
    ("ru", "у малыша жар и его не добудиться", "medical"),
    ("ru", "не могу разбудить сына", "medical"),
    ("ru", "rebenok ne prosypaetsya", "medical"),
    ("ru", "не могу найти дочь уже 3 часа", "child"),
    ("sw", "mtoto ana homa kali na haamki vizuri", "medical"),
    ("sw", "mtoto hataki kuamka na ana homa kali sana", "medical"),
    ("sw", "siwezi kumwamsha mtoto", "medical"),
    ("sw", "mwanangu amepotea masaa 3 sijamwona", "child"),
    ("sw", "nimempoteza mtoto sokoni", "child"),
    # Real threats next to the "X tappaa minut" idiom of the guard below
    ("fi", "mieheni tappaa minut", "threat"),
    ("fi", "hän uhkasi tappaa minut", "violence"),
    ("fi", "se tappaa minut jos kerron", "threat"),
    ("fi", "tämä mies tappaa minut", "threat"),
    ("fi", "täällä joku tappaa minut", "threat"),
    ("fi", "työkaveri tappaa minut", "threat"),
    ("fi", "kun tulen koulusta, isä tappaa minut", "threat"),
    ("fi", "Kela otti rahat ja mieheni tappaa minut", "threat"),
    ("fi", "Kela tappaa minut noilla papereilla ja mieheni lyö minua", "violence"),
]

# Near-misses of the same QA round: idioms and everyday messages that share the crisis words.
QA_NEAR_MISSES: list[tuple[str, str]] = [
    # The QA false alarm and the same idiom with other things
    ("fi", "Kela tappaa minut noilla papereilla"),
    ("fi", "Kelan paperit tappaa mut"),
    ("fi", "nää lomakkeet tappaa mut"),
    ("fi", "tämä byrokratia tappaa minut vielä"),
    ("fi", "koulu tappaa minut"),
    ("fi", "työ tappaa minut"),
    ("fi", "tää helle tappaa mut"),
    ("fi", "tää pakkanen tappaa mut kohta"),
    ("fi", "Migri tappaa minut näillä hakemuksilla"),
    ("fi", "TE-toimisto tappaa minut"),
    ("fi", "tää odottaminen Kelassa tappaa minut"),
    ("fi", "matikan koe tappaa mut"),
    ("en", "this kela form is killing me lol"),
    # Arabizi
    ("ar", "ana ta3ban men el shoghl"),
    ("ar", "abi amoot mn el dah7k"),
    ("ar", "ana bamoot mn el da7k"),
    ("ar", "abi amoot feek ya 7abibi"),
    ("ar", "bdi mot de passe jdid"),
    ("ar", "binti da3at el mafateh"),
    ("ar", "binti daya3at shantetha"),
    ("ar", "ibni da3 menno el ktab"),
    ("ar", "waladi da3 el bas"),
    ("ar", "binti da3at fi el riyadiyat"),
    ("ar", "ibni ma rja3 lel madrase ba3d el 3otla"),
    ("ar", "ibni ma shofto mn 3 snin"),
    ("ar", "zawji yadrab el bab"),
    ("ar", "el bard darabni"),
    ("ar", "mumkin tdarrebni 3ala el shoghl"),
    ("ar", "baba darrabni swa2a"),
    ("ar", "abi ashoof el mawa3eed"),
    ("ar", "abi yedrisni riyadiyat"),
    ("ar", "ibni shireb dawa2o"),
    ("ar", "ibni shireb dawa el ka7 mitl ma 2al el doctor"),
    ("ar", "ibni shireb 7alib"),
    ("ar", "mish 3ayez 3eish"),
    ("ar", "ibni ma byes7a bakkir lel madrase"),
    ("ar", "ابني ما بيصحى الصبح للمدرسة"),
    ("ar", "ما قدرت اصحى الصبح"),
    ("ar", "بنتي ضيعت المفاتيح"),
    # Sleep, school and found again
    ("fi", "lapsi ei herää aamulla kouluun"),
    ("fi", "lapsi nukkuu hyvin eikä herää yöllä"),
    ("fi", "en saa teiniä hereille ennen puoltapäivää"),
    ("fi", "poika eksyi kaupassa mutta löytyi heti"),
    ("fi", "lapset on hukassa uuden koulun kanssa"),
    ("fi", "poikani hukkasi avaimet"),
    ("fi", "lapsella on lievä kuume mutta muuten pirteä"),
    ("so", "wiilkaygu subaxdii ma toosayo dugsiga"),
    ("so", "ilmahaygu qandho yar ayuu qabaa"),
    ("so", "furahaygii wuu lumay"),
    ("so", "gabadhaydu taleefankeedii way lumisay"),
    ("so", "wiilkaygu meelna ma aado"),
    ("so", "ilmahaygu dugsiga wuu ka maqan yahay maanta"),
    ("en", "my son won't wake up for school in the morning"),
    ("en", "I can't wake my husband up for work lol"),
    ("en", "my son got lost at the mall but we found him"),
    ("en", "my daughter is lost in the new school"),
    ("en", "I lost my son last year"),
    ("en", "haven't seen my son for 3 years"),
    ("ru", "сын не просыпается в школу по утрам"),
    ("ru", "не могу разбудить мужа на работу"),
    ("ru", "у ребенка температура 37.5, вялый, но играет"),
    ("sw", "mtoto haamki asubuhi kwenda shule"),
    ("sw", "siwezi kumpata mwanangu kwenye simu"),
    ("sw", "nimempoteza mwanangu mwaka jana"),
]


@pytest.mark.parametrize(("lang", "text", "category"), QA_CRISES)
def test_crises_of_the_second_qa_round_are_flagged(
    detector: CrisisDetector, lang: str, text: str, category: str
) -> None:
    assert detector.category(text, lang) == category
    assert detector.is_crisis(text)  # the language guess may be wrong or missing


@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [
        ("ar", "ana bdi o2tol 7ali", "self_harm"),  # found by the regression pass: the Levantine "o2tol"
        ("ar", "ra7 o2tol nafsi", "self_harm"),
        ("fi", "lapsi nielaisi lääkkeitä", "child"),  # the momentary "nielaisi", not only "nieli"
        ("fi", "vauva nielaisi pariston", "medical"),
        ("fi", "poika on nielaissut tabletin", "child"),
        ("en", "my son took my medicine", "child"),
        ("en", "the baby got into grandma's pills", "child"),
        ("so", "wiilkaygii lama helin", "child"),  # my son cannot be found
    ],
)
def test_crises_of_the_regression_pass_are_flagged(
    detector: CrisisDetector, lang: str, text: str, category: str
) -> None:
    assert detector.category(text, lang) == category


@pytest.mark.parametrize(("lang", "text"), QA_NEAR_MISSES)
def test_near_misses_of_the_second_qa_round_are_not_flagged(detector: CrisisDetector, lang: str, text: str) -> None:
    assert not detector.is_crisis(text, lang), detector.match(text, lang)
    assert not detector.is_crisis(text), detector.match(text)


@pytest.mark.parametrize(
    ("lang", "text", "asks"),
    [
        ("en", "I can't go on anymore", True),
        ("en", "I can't go on anymore with this queue", False),
        ("fi", "en jaksa enää", True),
        ("fi", "en jaksa enää odottaa bussia", False),
        ("ar", "لم أعد أستطيع التحمل", True),
        ("ar", "لم أعد أستطيع تحمل البرد", False),
        ("ru", "я больше не могу", True),
        ("ru", "больше не могу ждать ответа от Kela", False),
        ("sw", "siwezi kuendelea tena", True),
        ("sw", "siwezi kuendelea na kozi", False),
        ("so", "rajo ma lihi", True),
        ("en", "I want to die", False),  # a crisis, not a question
        ("ar", "ibni ma yfeeq", True),  # my son does not wake: habitual in some dialects, so asked
        ("ar", "binti ma tes7a", True),
        ("ar", "ibni ma byes7a bakkir lal madrase", False),  # not early for school
        ("ar", "ابني ما بيفيق", True),
        ("ar", "ابني ما بيفيق بكير للمدرسة", False),
        ("so", "canugii ma soo jeedo", True),  # the baby is not awake
        ("so", "canugii ma soo jeedo habeenkii", False),  # not at night: asleep
        ("en", "my son took his medicine", False),
        ("en", "she took her medicine this morning", False),
    ],
)
def test_distress_alone_is_a_reason_to_ask(detector: CrisisDetector, lang: str, text: str, asks: bool) -> None:
    assert detector.scan(text, lang)[1] is asks
    if asks:
        assert detector.match(text, lang) is None  # asked about, not treated as a crisis


def test_idioms_are_guarded_but_do_not_hide_a_crisis(detector: CrisisDetector) -> None:
    assert not detector.is_crisis("I'm dying to learn Finnish")
    assert not detector.is_crisis("this homework is killing me lol")
    assert not detector.is_crisis("haha that video killed me lol")
    assert not detector.is_crisis("Tää läksy tappaa mut 😂")
    assert not detector.is_crisis("الواجب عم يقتلني")
    assert not detector.is_crisis("умираю со смеху")
    assert not detector.is_crisis("Kela tappaa minut noilla papereilla")
    assert detector.category("I'm dying to learn Finnish but my husband hits me") == "violence"
    assert detector.category("Kela tappaa minut noilla papereilla ja mieheni lyö minua") == "violence"


def test_normalisation_is_forgiving(detector: CrisisDetector) -> None:
    # Finnish without diacritics, shouting and stretched letters.
    assert detector.is_crisis("en halua enaa elaa")
    assert detector.is_crisis("EN HALUA ENÄÄ ELÄÄ!!!")
    assert detector.is_crisis("heeelp my baby is not breathiiing")
    # Arabic letter variants: alef with hamza or without, ta marbuta or ha.
    assert detector.is_crisis("أريد أن أموت")
    assert detector.is_crisis("اريد ان اموت")
    assert detector.is_crisis("حالة طارئة")
    # Russian ё written or not.
    assert detector.is_crisis("он убьёт меня")
    assert detector.is_crisis("он убьет меня")
    assert normalise("Don't  GO!! Kyllä") == " dont go kylla "


def test_nothing_is_no_crisis(detector: CrisisDetector) -> None:
    for text in ("", "   ", "👍", "ok", "kiitos", "hello"):
        assert not detector.is_crisis(text)
        assert detector.category(text) is None


def test_hinted_language_goes_first(detector: CrisisDetector) -> None:
    match = detector.match("mtoto hapumui", "sw")
    assert match is not None and match[1] == "sw"
    assert detector.match("mtoto hapumui", "fi") is not None  # still found under a wrong hint


def test_index_matches_every_pattern_as_a_full_scan_would(detector: CrisisDetector) -> None:
    """The start-prefix index only skips patterns that cannot match."""
    guards = [g for rules in detector.rules.values() for g in rules.guards]
    patterns = [p for rules in detector.rules.values() for _, p in rules.patterns]
    for _, _, text in DEV:
        guarded = normalise(text)
        for guard in guards:
            guarded = guard.sub(" ", guarded)
        expected = any(p.search(guarded) for p in patterns)
        assert detector.is_crisis(text) == expected, text


def _full_scan(detector: CrisisDetector, text: str, language: str | None) -> tuple[str, str, str] | None:
    """What `match` must answer, without the index: every guard, then every pattern, hint first."""
    guarded = normalise(text)
    for rules in detector.rules.values():
        for guard in rules.guards:
            guarded = guard.sub(" ", guarded)
    ordered = sorted(detector.rules.values(), key=lambda rules: rules.language != language)  # stable
    for rules in ordered:
        for category, pattern in rules.patterns:
            found = pattern.search(guarded)
            if found:
                return category, rules.language, found.group(0).strip()
    return None


@pytest.mark.parametrize("hint", [None, "en", "ar", "so", "fi-FI"])
def test_index_answers_as_a_full_scan_with_every_hint(detector: CrisisDetector, hint: str | None) -> None:
    """Same category, pattern language and words as running every pattern in the hinted order."""
    language = hint.split("-")[0] if hint else None
    for _, _, text in DEV:
        assert detector.match(text, hint) == _full_scan(detector, text, language), text


def test_every_match_contains_one_of_its_required_strings(detector: CrisisDetector) -> None:
    """The invariant the index rests on, for every pattern and guard on every message that it matches."""
    index = detector._index
    required: dict[int, list[str]] = {}
    for items in index.by_key.values():
        for number, string in items:
            required.setdefault(number, []).append(string)
    texts = [normalise(text) for _, _, text in DEV]
    matched = 0
    for number, source in enumerate(index.sources):
        if number in index.always:
            continue
        pattern = crisis.re.compile(source)
        for text in texts:
            if pattern.search(text):
                matched += 1
                assert any(string in text for string in required[number]), (source, text)
    assert matched > len(texts) / 2  # the check did check something


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"\bhe hits\b", (" he hits",)),  # a word start is a space in normalised text: not "the hits"
        (r"\b(?:very )?sick\b", (" sick", " very sick")),
        (r"\b\d+ ?vuotias", ("vuotias",)),  # what follows a wide start
        (r"\w+ burns", (" burns",)),
        (r"(?:ابني|بنتي)\b.{0,20}ضايع", ("ضايع",)),  # as long as either start, and one string
        (r"(?:ابني|بنتي)\b.{0,20}(?:ضايع|ضايعه)", ("ابني", "بنتي")),
        (r"\b(?:ei|en) jaksa", (" ei jaksa", " en jaksa")),  # the parser writes "e[in]"
        (r"\w+", None),
        (r"(?i)\bfire\b", None),  # its literals are not what it matches
        (r"\b(?:fire|\w+ly)\b", ("fire", "ly")),  # each branch its own
        (r"\b(?:fire|\w+)\b", None),  # one branch could be any word
    ],
)
def test_required_strings(source: str, expected: tuple[str, ...] | None) -> None:
    assert crisis._required_strings(source) == expected


def _lexicon_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "lexicons"
    directory.mkdir()
    for path in LEXICON_DIR.glob("crisis-*.yml"):
        shutil.copy(path, directory / path.name)
    return directory


def _cached(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "nlu").glob("crisis-index-*.pkl"))


def test_the_index_is_cached_and_a_lexicon_edit_invalidates_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    first = CrisisDetector(lexicons, cache_dir=cache_dir)
    assert len(_cached(cache_dir)) == 1
    assert first.category("blorptastic wibble") is None

    def no_reading(directory: Path) -> dict[str, CrisisRules]:
        raise AssertionError("a start from the cache must not read the lexicons")

    with monkeypatch.context() as patched:
        patched.setattr(crisis, "load_rules", no_reading)
        from_cache = CrisisDetector(lexicons, cache_dir=cache_dir)
        for _, _, text in DEV:
            assert from_cache.match(text) == first.match(text), text

    path = lexicons / "crisis-en.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["patterns"]["fire"].append(r"\bblorptastic wibble\b")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    edited = CrisisDetector(lexicons, cache_dir=cache_dir)
    assert edited.category("blorptastic wibble!") == "fire"
    assert len(_cached(cache_dir)) == 2  # keyed by content; the old one goes when an hour stale


def test_a_corrupt_or_foreign_cache_file_is_a_miss(tmp_path: Path) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    CrisisDetector(lexicons, cache_dir=cache_dir)
    [path] = _cached(cache_dir)
    good = path.read_bytes()
    for junk in (b"", b"not a pickle", good[: len(good) // 2], pickle.dumps({"some": "thing"})):
        path.write_bytes(junk)
        detector = CrisisDetector(lexicons, cache_dir=cache_dir)
        assert detector.category("I want to kill myself", "en") == "self_harm"
        assert not detector.is_crisis("when is the group meeting")
        assert path.read_bytes() == good  # rebuilt and written again


def test_an_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be", encoding="utf-8")
    detector = CrisisDetector(_lexicon_copy(tmp_path), cache_dir=blocker)
    assert detector.category("the kitchen is on fire", "en") == "fire"


def test_a_bad_lexicon_fails_even_when_an_index_is_cached(tmp_path: Path) -> None:
    lexicons, cache_dir = _lexicon_copy(tmp_path), tmp_path / "cache"
    CrisisDetector(lexicons, cache_dir=cache_dir)
    (lexicons / "crisis-xx.yml").write_text("patterns:\n  fire:\n    - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad pattern"):
        CrisisDetector(lexicons, cache_dir=cache_dir)
    assert len(_cached(cache_dir)) == 1  # nothing cached for lexicons that failed


def test_rules_files_are_checked(tmp_path: Path) -> None:
    bad_category = tmp_path / "crisis-xx.yml"
    bad_category.write_text("patterns:\n  nonsense:\n    - 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown crisis categories"):
        CrisisRules.from_file(bad_category)
    bad_regex = tmp_path / "crisis-yy.yml"
    bad_regex.write_text("patterns:\n  fire:\n    - '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad pattern"):
        CrisisRules.from_file(bad_regex)
    bad_term = tmp_path / "crisis-zz.yml"
    bad_term.write_text("patterns:\n  fire:\n    - '{nothing} burns'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown term"):
        CrisisRules.from_file(bad_term)


def test_every_served_language_has_every_category(detector: CrisisDetector) -> None:
    assert set(detector.rules) == {"fi", "en", "ar", "ru", "so", "sw"}
    for rules in detector.rules.values():
        assert {category for category, _ in rules.patterns} == set(CATEGORIES), rules.language


# --------------------------------------------------------------------------------------------
# Benchmark sets (bench/data, see its README): the dev set is what the lexicons were tuned on,
# the held-out sets were never used for tuning. Their floors are the figures reached, so that a
# lexicon change that loses crises or adds false alarms on unseen messages fails here.

BENCH = Path(__file__).resolve().parent.parent / "bench" / "data"
SERVED = ("ar", "en", "fi", "ru", "so", "sw")
# file: (lowest recall, highest false-positive rate) on its messages, language as hint
HELD_OUT_FLOORS: dict[str, tuple[float, float]] = {
    "crisis_heldout_test.tsv": (0.75, 0.04),  # reached 150/197 = 0.761, 6/156 = 3.8%
    "crisis_heldout_test2.tsv": (0.48, 0.07),  # reached 76/156 = 0.487, 10/150 = 6.7% (above target)
    "crisis_heldout_test3.tsv": (0.55, 0.05),  # reached 83/150 = 0.553, 7/150 = 4.7%
    "crisis_heldout_test4.tsv": (0.51, 0.08),  # reached 112/216 = 0.519, 13/168 = 7.7% (above target)
    "crisis_heldout_test5.tsv": (0.25, 0.08),  # reached 273/1037 = 0.263, 66/934 = 7.1% (above target)
}


def _bench_rows(name: str) -> list[dict[str, str]]:
    with (BENCH / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _recall_and_false_positives(detector: CrisisDetector, rows: list[dict[str, str]]) -> tuple[float, float]:
    crises = [r for r in rows if r["label"] == "crisis"]
    near = [r for r in rows if r["label"] == "near_miss"]
    found = sum(detector.is_crisis(r["text"], r["lang"]) for r in crises)
    flagged = sum(detector.is_crisis(r["text"], r["lang"]) for r in near)
    return found / len(crises), flagged / len(near)


@pytest.mark.parametrize("name", ["crisis_tuning_dev.tsv", *HELD_OUT_FLOORS])
def test_bench_sets_are_labelled_and_large_enough(name: str) -> None:
    rows = _bench_rows(name)
    for row in rows:
        assert row["lang"] in SERVED, row
        assert (row["label"], row["category"] == "none") in {("crisis", False), ("near_miss", True)}, row
        assert row["category"] in {*CATEGORIES, "none"}, row
    for lang in SERVED:
        crises = [r for r in rows if r["lang"] == lang and r["label"] == "crisis"]
        assert len(crises) >= 25, lang
        assert len([r for r in rows if r["lang"] == lang and r["label"] == "near_miss"]) >= 25, lang
        assert {r["category"] for r in crises} == set(CATEGORIES), lang
    texts = [(r["lang"], r["text"]) for r in rows]
    assert len(texts) == len(set(texts)), "duplicate messages"


def test_held_out_sets_share_no_message_with_the_dev_set() -> None:
    dev = {r["text"] for r in _bench_rows("crisis_tuning_dev.tsv")}
    for name in HELD_OUT_FLOORS:
        assert not dev & {r["text"] for r in _bench_rows(name)}, name


_DEV_ROWS = _bench_rows("crisis_tuning_dev.tsv")


@pytest.mark.parametrize(
    ("lang", "label", "text"), [(r["lang"], r["label"], r["text"]) for r in _DEV_ROWS], ids=lambda v: v[:40]
)
def test_bench_dev_set_is_caught_exactly(detector: CrisisDetector, lang: str, label: str, text: str) -> None:
    """The lexicons were tuned on the dev set: every crisis caught, no near-miss flagged."""
    assert detector.is_crisis(text, lang) == (label == "crisis"), detector.match(text, lang)


@pytest.mark.parametrize(("name", "floors"), HELD_OUT_FLOORS.items())
def test_held_out_recall_and_false_positives_stay_at_the_level_reached(
    detector: CrisisDetector, name: str, floors: tuple[float, float]
) -> None:
    recall, false_positives = _recall_and_false_positives(detector, _bench_rows(name))
    lowest_recall, highest_false_positives = floors
    assert recall >= lowest_recall, f"{name}: recall {recall:.3f}"
    assert false_positives <= highest_false_positives, f"{name}: false positives {false_positives:.1%}"


def test_first_tuned_set_meets_the_targets(detector: CrisisDetector) -> None:
    recall, false_positives = _recall_and_false_positives(detector, _bench_rows("crisis.tsv"))
    assert recall >= 0.98 and false_positives <= 0.05, (recall, false_positives)


def test_index_matches_a_full_scan_on_the_bench_sets(detector: CrisisDetector) -> None:
    """New patterns (look-arounds, optional starts) must not fall through the start-prefix index."""
    guards = [g for rules in detector.rules.values() for g in rules.guards]
    patterns = [p for rules in detector.rules.values() for _, p in rules.patterns]
    for name in ("crisis.tsv", "crisis_tuning_dev.tsv", *HELD_OUT_FLOORS):
        for row in _bench_rows(name):
            guarded = normalise(row["text"])
            for guard in guards:
                guarded = guard.sub(" ", guarded)
            assert detector.is_crisis(row["text"]) == any(p.search(guarded) for p in patterns), row["text"]
