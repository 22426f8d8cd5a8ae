"""Embedded intent classifier: word and character n-grams with a linear model, trained from nlu_data/.

Training uses scikit-learn; inference does not. The trained model is exported to plain arrays
(vocabulary, idf, weights, a calibration temperature) and cached on disk, because importing
scikit-learn alone costs about a second, and `python -m bot parse` must handle 1,000 lines in two
seconds including start-up. The cache key is a hash of the training files and of this module's
source, so changing either retrains on the next start.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu import model_cache

log = logging.getLogger(__name__)

INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "help",
    "change_language",
    "guide_topics",
    "topic_health",
    "topic_mental_health",
    "topic_family",
    "topic_school",
    "topic_work_study",
    "topic_money",
    "topic_housing",
    "group_schedule",
    "reminders_on",
    "reminders_off",
    "book_guidance",
    "cancel_booking",
    "human_handoff",
    "privacy_delete",
    "out_of_scope",
)

# Bump when the pickled layout changes; the source hash below catches every other code change.
MODEL_FORMAT = 2
# Telegram messages are at most 4096 characters; longer input is only ever a paste, and its
# beginning says what it is about. Bounding it bounds the time one line can take.
MAX_CHARS = 1000


@dataclass(frozen=True)
class Example:
    """One training or test utterance from the Rasa YAML files."""

    text: str
    intent: str
    language: str


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs of the feature extraction and the linear model.

    The defaults are character n-grams of 2-5 weighted 1.5 over words, 4-letter word prefixes as a
    crude stemmer for the inflecting languages, and Cyrillic romanised in the diacritic-free views.
    They were re-checked by 5-fold cross-validation on nlu_data/train alone (stratified by language
    and intent), never on the held-out split: C of 0.5 or 2, n-grams of 1-5 or 2-6, 3- or 5-letter
    prefixes, heavier word or character blocks, language-tagged words, class balancing, a
    Crammer-Singer or hinge-loss SVM, NB-SVM log-count ratios and word-dropout or typo augmentation
    all scored within 0.003 of these defaults or below them, so the defaults stay.
    """

    char_ngrams: tuple[int, int] = (2, 5)
    word_bigrams: bool = True
    language_words: bool = False
    romanize: bool = True
    arabic_skeleton: bool = True
    stem_prefix: int = 4
    min_df: int = 1
    block_weights: dict[str, float] = field(
        default_factory=lambda: {"w": 1.0, "p": 1.0, "c": 1.5, "s": 1.0, "k": 1.5, "l": 0.5}
    )
    c: float = 1.0
    calibration_folds: int = 3
    seed: int = 0


# --- Reading Rasa's YAML -------------------------------------------------------------------------

_ENTITY_MARKUP = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def _strip_entity_markup(text: str) -> str:
    """`[Kemi](place)` and `[Kemi]{"entity": "place"}` are Rasa's entity markup: keep the words."""
    return _ENTITY_MARKUP.sub(r"\1", text)


def read_rasa_nlu(path: Path) -> list[Example]:
    """Read the intent examples of one Rasa 3.x NLU file; the file name (`fi.yml`) is the language."""
    import yaml  # only needed when training or evaluating, not on the cached start-up path

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    language = path.stem.split(".")[0]
    examples: list[Example] = []
    for item in data.get("nlu") or []:
        intent = item.get("intent") if isinstance(item, dict) else None
        if not intent:
            continue  # synonyms, regexes and lookup tables carry no intent examples
        raw = item.get("examples") or ""
        if isinstance(raw, str):
            lines = [line.strip() for line in raw.splitlines()]
            texts = [line[1:].strip() for line in lines if line.startswith("-")]
        else:  # the list form allows per-example metadata: [{"text": ..., "metadata": ...}]
            texts = [str(entry.get("text", "")) if isinstance(entry, dict) else str(entry) for entry in raw]
        for text in texts:
            clean = _strip_entity_markup(text).strip()
            if clean:
                examples.append(Example(clean, str(intent), language))
    return examples


def training_files(directory: Path) -> list[Path]:
    """The YAML files of a training or test directory, in a stable order."""
    return sorted(p for p in directory.iterdir() if p.suffix in {".yml", ".yaml"} and p.is_file())


def load_examples(directory: Path) -> list[Example]:
    """All intent examples under `directory` (one file per language)."""
    examples: list[Example] = []
    for path in training_files(directory):
        examples.extend(read_rasa_nlu(path))
    return examples


# --- Normalisation and features ------------------------------------------------------------------

_ARABIC_TABLE: dict[int, str | None] = {
    # Spelling variants that people type interchangeably (hamza seats, alef maqsura, ta marbuta):
    # folding them is the usual light normalisation for Arabic search.
    **{ord(ch): "ا" for ch in "أإآٱ"},
    ord("ى"): "ي",
    ord("ئ"): "ي",
    ord("ؤ"): "و",
    ord("ة"): "ه",
    # Persian/Urdu letter forms on Arabic keyboards.
    ord("ی"): "ي",
    ord("ک"): "ك",
    # Tatweel only stretches a word; harakat are mostly omitted in chat and only split the vocabulary.
    ord("ـ"): None,
    **{cp: None for cp in range(0x064B, 0x0660)},
    0x0670: None,
    # Arabic-Indic and Persian digits.
    **{0x0660 + i: str(i) for i in range(10)},
    **{0x06F0 + i: str(i) for i in range(10)},
    ord("،"): ",",
    ord("؛"): ";",
    ord("؟"): "?",
}

# Russian speakers often type in Latin letters ("privet, kogda vstrecha?"). Mapping Cyrillic to the
# usual informal transliteration for the diacritic-free views puts both spellings on the same features.
_CYRILLIC_TO_LATIN: dict[int, str] = {
    ord(cyr): lat
    for cyr, lat in zip(
        "абвгдеёжзийклмнопрстуфхцчшщыэюяієїґў",
        "a b v g d e e zh z i i k l m n o p r s t u f h ts ch sh sch y e yu ya i e i g u".split(),
        strict=True,
    )
}
_CYRILLIC_TO_LATIN.update({ord("ъ"): "", ord("ь"): ""})  # the hard and soft signs are not written

# Arabic typed in Latin letters ("mata el ijtima3", "dhakirni") drops most vowels on one side and
# writes them on the other, so both are reduced to a consonant skeleton: Arabic letters to their usual
# Latin (Arabizi) consonants, long vowels, hamza and ʿayn dropped; Latin vowels and the Arabizi digits
# for ʿayn/hamza dropped, the other digits read as the letters they stand for.
_ARABIC_TO_SKELETON: dict[int, str] = {
    ord(ar): lat
    for ar, lat in zip(
        "بتثجحخدذرزسشصضطظغفقكلمنه",
        "b t t j h kh d dh r z s sh s d t z gh f k k l m n h".split(),
        strict=True,
    )
}
_ARABIC_TO_SKELETON.update({ord(ch): "" for ch in "اويىءع"})
_LATIN_TO_SKELETON: dict[int, str] = {
    **{ord(ch): "" for ch in "aeiouyw23"},
    ord("5"): "kh",
    ord("6"): "t",
    ord("7"): "h",
    ord("8"): "gh",
    ord("9"): "k",
    ord("q"): "k",
    ord("c"): "k",
    ord("v"): "f",
}
_ARABIC_LETTERS = re.compile(r"[\u0600-\u06ff]")
_LATIN_ARTICLES = frozenset({"el", "al", "il", "l"})
_DOUBLES = re.compile(r"(.)\1+")

_REPEATS = re.compile(r"(.)\1{2,}")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalize(text: str) -> str:
    """Case-fold, fold Arabic spelling variants and shorten stretched letters ("kiitoooos")."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    text = text.translate(_ARABIC_TABLE)
    return _REPEATS.sub(r"\1\1", text)


def strip_diacritics(text: str) -> str:
    """Drop combining marks ("päiväkoti" → "paivakoti"): families often type without them."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def arabic_skeleton(word: str) -> str:
    """Consonant skeleton of an Arabic word in either script ("ijtima3" and "اجتماع" → "jtm")."""
    if _ARABIC_LETTERS.search(word):
        if word.startswith("ال") and len(word) > 3:
            word = word[2:]  # the article is written apart in Latin letters ("el rawda")
        skeleton = word.translate(_ARABIC_TO_SKELETON)
    else:
        skeleton = word.translate(_LATIN_TO_SKELETON)
    skeleton = _DOUBLES.sub(r"\1", skeleton)
    return skeleton[:-1] if len(skeleton) > 2 and skeleton.endswith("h") else skeleton  # ta marbuta


def _tokens(text: str) -> list[str]:
    """Words and symbols (emoji carry meaning: 👍 🙏 👋); punctuation is dropped."""
    return [t for t in _TOKEN.findall(text) if t[0].isalnum() or t[0] == "_" or not _is_punct(t[0])]


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "P"


def extract_features(text: str, language: str | None, config: TrainingConfig) -> dict[str, Counter[str]]:
    """Raw term counts per feature block.

    Blocks: `w` words and word bigrams as written (normalised); `p` words without diacritics and
    with Cyrillic romanised, so "päiväkoti"/"paivakoti" and "привет"/"privet" meet; `c` character
    n-grams within those words, which carry typos, inflection and unseen compounds; `s` word
    prefixes, a stemmer that needs no per-language rules; `k` consonant skeletons of Arabic words
    (and their trigrams), where Arabic script and Arabizi meet; `l` optionally, words tagged with the
    language, for words that mean different things in different languages.
    """
    norm = normalize(text)
    words = _tokens(norm)
    plain_words = [strip_diacritics(w) for w in words]
    if config.romanize:
        plain_words = [w.translate(_CYRILLIC_TO_LATIN) for w in plain_words]
    blocks: dict[str, Counter[str]] = {"w": Counter(words), "p": Counter(plain_words)}
    if config.word_bigrams and len(words) > 1:
        blocks["w"].update(f"{a} {b}" for a, b in itertools.pairwise(words))
    low, high = config.char_ngrams
    grams: list[str] = []
    for word in plain_words:
        padded = f" {word} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams += [padded[i : i + n] for i in range(size - n + 1)]
    blocks["c"] = Counter(grams)
    blocks["c"].pop(" ", None)  # the padding alone says nothing
    if config.arabic_skeleton:
        # Latin words only when the message is Arabic: other languages' skeletons would be noise.
        latin_too = language == "ar"
        skeletons = [
            arabic_skeleton(w)
            for w in words
            if _ARABIC_LETTERS.search(w) or (latin_too and w.isalnum() and w not in _LATIN_ARTICLES)
        ]
        skeletons = [k for k in skeletons if len(k) >= 2]
        if skeletons:
            block = Counter(skeletons)
            for k in skeletons:
                padded = f" {k} "
                block.update(padded[i : i + 3] for i in range(len(padded) - 2))
            blocks["k"] = block
    if config.stem_prefix:
        size = config.stem_prefix
        blocks["s"] = Counter(w[:size] for w in plain_words if len(w) > size)
    if config.language_words and language:
        blocks["l"] = Counter(f"{language}|{w}" for w in plain_words)
    return blocks


Vocabulary = dict[str, dict[str, int]]  # block → term → column


def weigh(
    blocks: dict[str, Counter[str]],
    vocabulary: Vocabulary,
    idf: np.ndarray,
    block_weights: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Tf-idf weighting of raw counts, each block L2-normalised then scaled by its weight.

    Unknown terms are dropped before normalising, as scikit-learn's TfidfVectorizer does, so that
    training (which uses this same function) and inference agree exactly. This runs once per message
    on the `parse` hot path, where a message has a few dozen terms in five blocks: the look-ups are
    plain dict gets, and numpy is called a fixed handful of times per message rather than several
    times per block, because at this size each numpy call's overhead outweighs its arithmetic.
    """
    columns: list[int] = []
    counts: list[int] = []
    starts: list[int] = []  # where each block's known terms begin in `columns`
    scales: list[float] = []
    for block, terms_counts in blocks.items():
        terms = vocabulary.get(block)
        if not terms or not terms_counts:
            continue
        start = len(columns)
        get = terms.get
        for term, count in terms_counts.items():
            column = get(term)
            if column is not None:
                columns.append(column)
                counts.append(count)
        if len(columns) > start:
            starts.append(start)
            scales.append(block_weights.get(block, 1.0))
    if not columns:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    index = np.array(columns, dtype=np.int64)
    # Sublinear tf: a word repeated in one message is not three times the evidence.
    values = (1.0 + np.log(np.array(counts, dtype=np.float64))) * idf[index]
    norms = np.sqrt(np.add.reduceat(values * values, starts))
    sizes = np.diff(np.append(starts, len(columns)))
    values *= np.repeat(np.array(scales) / norms, sizes)
    return index, values.astype(np.float32)


# --- The exported model --------------------------------------------------------------------------


@dataclass
class IntentModel:
    """Everything inference needs, as plain Python and numpy objects (fast to unpickle)."""

    intents: tuple[str, ...]
    config: TrainingConfig
    vocabulary: Vocabulary  # block → term → column
    idf: np.ndarray  # (n_features,) float32
    weights: np.ndarray  # (n_features, n_intents) float32
    bias: np.ndarray  # (n_intents,) float32
    temperature: float  # softmax(scores / temperature) is calibrated on out-of-fold scores
    trained_seconds: float = 0.0
    n_examples: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def vectorize(self, text: str, language: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Sparse tf-idf vector of one text: column indices and values (each block L2-normalised)."""
        blocks = extract_features(text, language, self.config)
        return weigh(blocks, self.vocabulary, self.idf, self.config.block_weights)

    def probabilities(self, text: str, language: str | None) -> np.ndarray:
        """Calibrated probability of each intent, in `self.intents` order."""
        indices, values = self.vectorize(text, language)
        scores = self.bias.astype(np.float64)
        if len(indices):
            scores = scores + values @ self.weights[indices]
        scores = scores / self.temperature
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


def _build_matrix(
    documents: Sequence[dict[str, Counter[str]]], config: TrainingConfig
) -> tuple[Any, Vocabulary, np.ndarray]:
    """The training tf-idf matrix, fitted like scikit-learn's TfidfVectorizer per block."""
    from scipy import sparse

    df: Counter[str] = Counter()
    for blocks in documents:
        for block, counts in blocks.items():
            df.update(f"{block}:{term}" for term in counts)
    names = sorted(name for name, count in df.items() if count >= config.min_df)
    vocabulary: Vocabulary = {}
    for i, name in enumerate(names):
        block, term = name.split(":", 1)
        vocabulary.setdefault(block, {})[term] = i
    n_docs = len(documents)
    # Smoothed idf, as scikit-learn's default: as if one extra document contained every term.
    idf = np.array([math.log((1 + n_docs) / (1 + df[name])) + 1.0 for name in names], dtype=np.float32)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, blocks in enumerate(documents):
        indices, values = weigh(blocks, vocabulary, idf, config.block_weights)
        rows.extend([row] * len(indices))
        cols.extend(indices.tolist())
        vals.extend(values.tolist())
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(n_docs, len(names)), dtype=np.float64)
    return matrix, vocabulary, idf


def _fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature that minimises log-loss on out-of-fold scores (temperature scaling)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(labels)), labels].mean())

    result = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded")
    return float(math.exp(result.x))


def train_model(examples: Sequence[Example], config: TrainingConfig | None = None) -> IntentModel:
    """Train on `examples`: a linear SVM on tf-idf features, calibrated by temperature scaling.

    A linear SVM ranks intents at least as well as logistic regression on short texts and trains in
    about a second; its margins are not probabilities, so a softmax temperature is fitted on
    out-of-fold margins (cross-validation), which gives calibrated confidences for the core's
    low-confidence rule without a second model per fold at inference.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.svm import LinearSVC

    config = config or TrainingConfig()
    if not examples:
        raise ValueError("no training examples")
    started = time.perf_counter()
    documents = [extract_features(e.text, e.language, config) for e in examples]
    matrix, vocabulary, idf = _build_matrix(documents, config)
    intents = tuple(sorted({e.intent for e in examples}, key=_intent_order))
    index = {name: i for i, name in enumerate(intents)}
    labels = np.array([index[e.intent] for e in examples])

    def classifier() -> LinearSVC:
        return LinearSVC(C=config.c, random_state=config.seed, max_iter=5000)

    temperature = 1.0
    smallest_class = int(np.bincount(labels).min())
    folds = min(config.calibration_folds, smallest_class)
    if folds >= 2 and len(intents) > 1:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        oof = cross_val_predict(classifier(), matrix, labels, cv=splitter, method="decision_function")
        oof = np.asarray(oof, dtype=np.float64)
        if oof.ndim == 1:  # binary: one margin, split symmetrically as for the final weights below
            oof = np.column_stack([-oof / 2, oof / 2])
        temperature = _fit_temperature(oof, labels)

    if len(intents) == 1:
        weights = np.zeros((matrix.shape[1], 1), dtype=np.float32)
        bias = np.zeros(1, dtype=np.float32)
    else:
        final = classifier().fit(matrix, labels)
        coef = np.asarray(final.coef_, dtype=np.float32)
        intercept = np.asarray(final.intercept_, dtype=np.float32)
        if len(intents) == 2:  # binary LinearSVC has one row: the score of class 1 against class 0
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        weights = np.ascontiguousarray(coef.T)
        bias = intercept
    return IntentModel(
        intents=intents,
        config=config,
        vocabulary=vocabulary,
        idf=idf,
        weights=weights,
        bias=bias,
        temperature=temperature,
        trained_seconds=time.perf_counter() - started,
        n_examples=len(examples),
    )


def _intent_order(name: str) -> tuple[int, str]:
    """Contract intents first in their documented order, anything else after, alphabetically."""
    return (INTENTS.index(name), "") if name in INTENTS else (len(INTENTS), name)


# --- Cache ---------------------------------------------------------------------------------------


def cache_key(train_dir: Path, config: TrainingConfig | None = None) -> str:
    """Hash of the training files, the training config and this module's code."""
    digest = hashlib.sha256()
    digest.update(f"format={MODEL_FORMAT}\n".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(repr(sorted(asdict(config or TrainingConfig()).items())).encode())
    for path in training_files(train_dir):
        digest.update(f"\n== {path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def cache_path(cache_dir: Path, key: str) -> Path:
    """Where the model for `key` is cached."""
    return model_cache.path_for(cache_dir, "intents", key)


# --- The classifier ------------------------------------------------------------------------------


class IntentClassifier:
    """Ranks the intents of a message; thread-safe (read-only after construction)."""

    def __init__(self, model: IntentModel, *, from_cache: bool = False) -> None:
        self.model = model
        self.from_cache = from_cache

    @property
    def intents(self) -> tuple[str, ...]:
        """The intents this model knows, in contract order."""
        return self.model.intents

    @classmethod
    def train(cls, examples: Sequence[Example], config: TrainingConfig | None = None) -> IntentClassifier:
        """Train without touching any cache (tests, benchmarks)."""
        return cls(train_model(examples, config))

    @classmethod
    def load_or_train(
        cls, train_dir: Path, cache_dir: Path | None, config: TrainingConfig | None = None
    ) -> IntentClassifier:
        """Load the cached model for the current data and code, training (and caching) it if absent."""
        key = cache_key(train_dir, config)

        def train() -> IntentModel:
            model = train_model(load_examples(train_dir), config)
            model.metadata["cache_key"] = key
            log.info("trained intent model on %d examples in %.1f s", model.n_examples, model.trained_seconds)
            return model

        path = cache_path(cache_dir, key) if cache_dir is not None else None
        model, from_cache = model_cache.load_or_build(path, IntentModel, train, what="intent model")
        return cls(model, from_cache=from_cache)

    def classify(self, text: str, language: str | None = None) -> list[tuple[str, float]]:
        """All intents with calibrated probabilities, most likely first.

        `language` is the detected or stored language; it only matters when the model was
        trained with language-tagged features, and an unknown one is harmless.
        """
        probabilities = self.model.probabilities(text, language)
        order = np.argsort(-probabilities, kind="stable")
        intents = self.model.intents
        return [(intents[i], float(probabilities[i])) for i in order]

    def classify_many(self, texts: Iterable[str], language: str | None = None) -> list[list[tuple[str, float]]]:
        """`classify` over several texts (benchmarks and evaluation)."""
        return [self.classify(text, language) for text in texts]
