//! The words the extractor knows: medicines, forms, units, verbs, numbers.
//!
//! Every list is a sorted slice searched by binary search (a test keeps them sorted), so a
//! lookup costs a few comparisons whatever the note. Medicines not listed are still found
//! by their stems (`drug_by_suffix`) or by the dose written after them (see `drugs`).

/// Fails a test when a word list that `has` searches is not sorted or repeats a word.
#[cfg(test)]
pub(crate) fn assert_sorted_unique(list: &[&str]) {
    let mut sorted = list.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, list, "unsorted or duplicated list");
}

pub(crate) fn has(list: &[&str], w: &str) -> bool {
    list.binary_search_by(|probe| short_cmp(probe, w)).is_ok()
}

/// Byte-wise order of two short words, inline: the lists' words are a few bytes long, where
/// a loop beats a call to `memcmp` per comparison (the extractor does millions).
#[inline]
pub(crate) fn short_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Generic names (and a few household brands) of common medicines and products.
#[rustfmt::skip]
const DRUGS: &[&str] = &[
    "aciclovir", "acyclovir", "adalimumab", "adcal", "adrenaline", "albuterol", "alendronate",
    "alendronic", "allopurinol", "alogliptin", "alprazolam", "amiodarone", "amitriptyline",
    "amlodipine", "amoxicillin", "amoxiclav", "amoxycillin", "ampicillin", "anastrozole",
    "apixaban", "aripiprazole", "aspirin", "atenolol", "atorvastatin", "augmentin", "azathioprine",
    "azithromycin", "baclofen", "beclometasone", "beclomethasone", "bendroflumethiazide",
    "benzoyl", "benzylpenicillin", "betahistine", "betamethasone", "bimatoprost", "bisacodyl",
    "bisoprolol", "budesonide", "bumetanide", "buprenorphine", "buscopan", "calcichew",
    "calcipotriol", "calpol", "candesartan", "canesten", "captopril", "carbamazepine",
    "carbimazole", "carbocisteine", "carvedilol", "cefalexin", "cefuroxime", "celecoxib",
    "cephalexin", "cetirizine", "chloramphenicol", "chlorhexidine", "chlorphenamine",
    "cholecalciferol", "cinnarizine", "ciprofloxacin", "citalopram", "clarithromycin",
    "clindamycin", "clobetasol", "clobetasone", "clonazepam", "clonidine", "clopidogrel",
    "clotrimazole", "clozapine", "codamol", "codeine", "colchicine", "colecalciferol", "cyclizine",
    "dabigatran", "dalteparin", "dapagliflozin", "desloratadine", "desogestrel", "dexamethasone",
    "diazepam", "diclofenac", "digoxin", "dihydrocodeine", "diltiazem", "dipyridamole", "docusate",
    "domperidone", "donepezil", "doxazosin", "doxycycline", "duloxetine", "edoxaban", "emollient",
    "empagliflozin", "enalapril", "enoxaparin", "epinephrine", "eplerenone", "erythromycin",
    "escitalopram", "esomeprazole", "estradiol", "ezetimibe", "famotidine", "felodipine",
    "ferrous", "fexofenadine", "finasteride", "flucloxacillin", "fluconazole", "fludrocortisone",
    "fluoxetine", "fluticasone", "folic", "formoterol", "fosfomycin", "furosemide", "fusidic",
    "gabapentin", "gaviscon", "gentamicin", "glibenclamide", "gliclazide", "glimepiride",
    "glipizide", "glucagon", "glyceryl", "haloperidol", "heparin", "hydrochlorothiazide",
    "hydrocortisone", "hydroxychloroquine", "hydroxyzine", "hyoscine", "ibuprofen", "indapamide",
    "indometacin", "insulin", "ipratropium", "irbesartan", "isosorbide", "isotretinoin",
    "itraconazole", "ivermectin", "ketoconazole", "labetalol", "lactulose", "lamotrigine",
    "lansoprazole", "latanoprost", "laxido", "letrozole", "levetiracetam", "levocetirizine",
    "levofloxacin", "levothyroxine", "lidocaine", "linagliptin", "liraglutide", "lisinopril",
    "lithium", "loperamide", "loratadine", "lorazepam", "losartan", "macrogol", "mebendazole",
    "mebeverine", "medroxyprogesterone", "mefenamic", "meloxicam", "mesalazine", "metformin",
    "methotrexate", "methylphenidate", "metoclopramide", "metoprolol", "metronidazole",
    "miconazole", "mirtazapine", "montelukast", "morphine", "movicol", "moxifloxacin", "mupirocin",
    "naproxen", "nebivolol", "neomycin", "nicotine", "nifedipine", "nitrofurantoin",
    "nitroglycerin", "norethisterone", "nortriptyline", "nystatin", "oflaxacin", "ofloxacin",
    "olanzapine", "olmesartan", "omeprazole", "ondansetron", "oseltamivir", "oxybutynin",
    "oxycodone", "oxygen", "pantoprazole", "paracetamol", "paroxetine", "penicillin",
    "perindopril", "permethrin", "phenoxymethylpenicillin", "phenytoin", "pioglitazone", "piriton",
    "pravastatin", "prednisolone", "prednisone", "pregabalin", "prochlorperazine", "promethazine",
    "propranolol", "quetiapine", "quinine", "rabeprazole", "ramipril", "ranitidine", "rifampicin",
    "risedronate", "risperidone", "rivaroxaban", "rosuvastatin", "salbutamol", "salmeterol",
    "senna", "sertraline", "sildenafil", "simvastatin", "sitagliptin", "sodium", "solifenacin",
    "sotalol", "spironolactone", "sulfasalazine", "sumatriptan", "tadalafil", "tamoxifen",
    "tamsulosin", "terbinafine", "terbutaline", "testosterone", "theophylline", "thiamine",
    "timolol", "tinzaparin", "tiotropium", "tolterodine", "topiramate", "tramadol", "tranexamic",
    "trazodone", "triamcinolone", "trimethoprim", "trimoxazole", "valaciclovir", "valproate",
    "valsartan", "vancomycin", "varenicline", "venlafaxine", "ventolin", "verapamil", "vitamin",
    "warfarin", "zinc", "zolpidem", "zopiclone",
];

/// Stems that mark a medicine's name (-cillin, -prazole, -olol, …).
#[rustfmt::skip]
const DRUG_SUFFIXES: &[&str] = &[
    "afil", "azepam", "azole", "azolam", "calciferol", "cillin", "coxib", "cycline", "dipine",
    "dronate", "floxacin", "gliflozin", "gliptin", "glitazone", "lukast", "mab", "mazepine",
    "micin", "mycin", "nacin", "olol", "oxetine", "parin", "pril", "profen", "sartan", "semide",
    "setron", "sone", "statin", "tadine", "terol", "thiazide", "tidine", "triptan", "triptyline",
    "tropium", "vir", "xaban",
];

/// Words that look like a medicine stem but are not one.
#[rustfmt::skip]
const NOT_DRUGS: &[&str] = &[
    "cholesterol", "person", "reason", "season",
];

/// Words naming a medicine only together with the next word ("ferrous sulfate").
#[rustfmt::skip]
const DRUG_HEADS: &[&str] = &[
    "calcium", "cod", "ferrous", "fish", "folic", "fusidic", "glyceryl", "iron", "isosorbide",
    "magnesium", "mefenamic", "omega", "potassium", "salicylic", "sodium", "tranexamic", "vitamin",
    "zinc",
];

pub(crate) fn is_drug(w: &str) -> bool {
    // Medicine names are words of letters (and hyphens) of three letters or more.
    if w.len() < 3 || !w.as_bytes()[0].is_ascii_lowercase() {
        return false;
    }
    has(DRUGS, w)
        || is_medicine_word(w)
        || (w.len() > 5
            && !has(NOT_DRUGS, w)
            && w.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
            && DRUG_SUFFIXES.iter().any(|s| w.ends_with(s)))
}

/// Where each two-letter prefix's words lie in `MEDICINE_WORDS` (built once): a lookup
/// searches a few dozen words, not 9,359.
static MEDICINE_INDEX: std::sync::LazyLock<Vec<(u32, u32)>> = std::sync::LazyLock::new(|| {
    let mut index = vec![(0u32, 0u32); 26 * 27];
    let words = crate::medicines::MEDICINE_WORDS;
    let mut i = 0;
    while i < words.len() {
        let key = prefix_key(words[i]);
        let start = i;
        while i < words.len() && prefix_key(words[i]) == key {
            i += 1;
        }
        if let Some(slot) = key.and_then(|k| index.get_mut(k)) {
            // The list has fewer than 2^32 words (a test keeps it under 12,000).
            *slot = (
                u32::try_from(start).unwrap_or(u32::MAX),
                u32::try_from(i).unwrap_or(u32::MAX),
            );
        }
    }
    index
});

/// The bucket of a word's first two letters (a lone letter is its own bucket).
fn prefix_key(w: &str) -> Option<usize> {
    let b = w.as_bytes();
    let first = b.first().filter(|c| c.is_ascii_lowercase())?;
    let second = match b.get(1) {
        Some(c) if c.is_ascii_lowercase() => usize::from(c - b'a') + 1,
        _ => 0,
    };
    Some(usize::from(first - b'a') * 27 + second)
}

fn is_medicine_word(w: &str) -> bool {
    let Some((start, end)) = prefix_key(w).and_then(|k| MEDICINE_INDEX.get(k).copied()) else {
        return false;
    };
    crate::medicines::MEDICINE_WORDS
        .get(start as usize..end as usize)
        .is_some_and(|bucket| has(bucket, w))
}

pub(crate) fn is_drug_head(w: &str) -> bool {
    has(DRUG_HEADS, w)
}

/// Dosage forms and routes that belong to a medicine's name in a title.
#[rustfmt::skip]
const FORMS: &[&str] = &[
    "accuhaler", "autohaler", "balm", "breezhaler", "cap", "caplet", "caplets", "caps", "capsule",
    "capsules", "cream", "diskus", "drop", "drops", "ear", "easyhaler", "ec", "elixir", "ellipta",
    "enema", "er", "evohaler", "eye", "flexpen", "flextouch", "foam", "gel", "genuair", "granules",
    "handihaler", "inhaler", "injection", "kwikpen", "la", "linctus", "lip", "liquid", "lotion",
    "lozenge", "lozenges", "m/r", "mouthwash", "mr", "nasal", "nebules", "nexthaler", "ointment",
    "oral", "paste", "patch", "patches", "pen", "pessaries", "pessary", "powder", "respimat",
    "sachet", "sachets", "shampoo", "solostar", "solution", "spiromax", "spray", "sr",
    "suppositories", "suppository", "suspension", "syrup", "tab", "tablet", "tablets", "tabs",
    "topical", "turbohaler", "wash", "xl",
];

/// Forms that only count pills, left out of titles ("Take amoxicillin 500 mg").
#[rustfmt::skip]
const COUNT_FORMS: &[&str] = &[
    "cap", "caplet", "caplets", "caps", "capsule", "capsules", "pill", "pills", "tab", "tablet",
    "tablets", "tabs",
];

pub(crate) fn is_form(w: &str) -> bool {
    has(FORMS, w)
}

pub(crate) fn is_count_form(w: &str) -> bool {
    has(COUNT_FORMS, w)
}

/// Units of strength that make "NUMBER UNIT" a dose worth a title.
#[rustfmt::skip]
const STRENGTH_UNITS: &[&str] = &[
    "%", "g", "gm", "gram", "grams", "iu", "l", "mcg", "mg", "mg/kg", "mg/ml", "microgram",
    "micrograms", "millilitre", "millilitres", "ml", "mmol", "nanograms", "ng", "u", "ug", "unit",
    "units", "µg",
];

/// Units that count what is taken ("2 puffs", "4 drops").
#[rustfmt::skip]
const COUNT_UNITS: &[&str] = &[
    "actuation", "actuations", "ampoule", "ampoules", "application", "applications", "applicator",
    "applicatorful", "cap", "capful", "caps", "capsule", "capsules", "click", "clicks", "drop",
    "drops", "gtt", "gtts", "inhalation", "inhalations", "packet", "packets", "pen", "pens",
    "puff", "puffs", "pump", "pumps", "sachet", "sachets", "scoop", "scoops", "spoonful",
    "spoonfuls", "spray", "sprays", "syringe", "syringes", "tab", "tablespoon", "tablespoons",
    "tablet", "tablets", "tabs", "teaspoon", "teaspoons", "vial", "vials",
];

pub(crate) fn is_strength_unit(w: &str) -> bool {
    has(STRENGTH_UNITS, w)
}

pub(crate) fn is_count_unit(w: &str) -> bool {
    has(COUNT_UNITS, w)
}

/// Verbs that give a medicine ("take", "apply"): with nothing else named, they refer to
/// the medicine the note last mentioned.
#[rustfmt::skip]
const ADMIN_VERBS: &[&str] = &[
    "administer", "apply", "chew", "commence", "continue", "decrease", "dissolve", "drink",
    "gargle", "give", "increase", "inhale", "inject", "insert", "instil", "instill", "mix",
    "place", "put", "reduce", "restart", "resume", "rub", "spray", "start", "swallow", "swish",
    "take", "use",
];

pub(crate) fn is_admin_verb(w: &str) -> bool {
    has(ADMIN_VERBS, w)
}

/// One-time actions: a clause led by one of these is a checklist item.
#[rustfmt::skip]
const CHECKLIST_VERBS: &[&str] = &[
    "arrange", "attend", "book", "buy", "call", "collect", "contact", "email", "enrol", "enroll",
    "fill", "get", "mark", "obtain", "order", "organise", "organize", "phone", "pick", "purchase",
    "recheck", "refill", "register", "renew", "repeat", "replace", "request", "ring", "schedule",
    "send", "telephone", "text",
];

pub(crate) fn is_checklist_verb(w: &str) -> bool {
    has(CHECKLIST_VERBS, w)
}

/// Verbs that open a new instruction after "and" or ", " ("… and change the dressing").
#[rustfmt::skip]
const IMPERATIVES: &[&str] = &[
    "administer", "apply", "arrange", "attend", "avoid", "book", "bring", "buy", "call", "cease", "change",
    "check", "chew", "clean", "collect", "commence", "contact", "continue", "cut", "discontinue",
    "dissolve", "do", "drink", "eat", "elevate", "email", "enrol", "enroll", "exercise", "gargle",
    "get", "give", "go", "hold", "ice", "increase", "inhale", "inject", "insert", "inspect",
    "instil", "instill", "keep", "limit", "mark", "measure", "monitor", "never", "obtain", "order",
    "perform", "phone", "pick", "purchase", "record", "reduce", "register", "replace", "request",
    "rest", "restart", "resume", "return", "ring", "rinse", "schedule", "soak", "start", "stop",
    "stretch", "swallow", "switch", "take", "telephone", "test", "use", "walk", "wash", "wear",
    "weigh", "write",
];

pub(crate) fn is_imperative(w: &str) -> bool {
    has(IMPERATIVES, w)
}

/// Number words, and "a"/"an" where a quantity is expected.
pub(crate) fn number_word(w: &str) -> Option<u32> {
    Some(match w {
        "a" | "an" | "one" | "single" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "ninety" => 90,
        _ => return None,
    })
}

/// The digits of an integer token, capped so arithmetic never overflows.
pub(crate) fn integer(w: &str) -> Option<u32> {
    if w.is_empty() || w.len() > 6 || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

/// `b.i.d` → `bid`: shorthand is written with and without dots.
pub(crate) fn undotted(w: &str) -> std::borrow::Cow<'_, str> {
    if w.contains('.') {
        std::borrow::Cow::Owned(w.replace('.', ""))
    } else {
        std::borrow::Cow::Borrowed(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_medicine_word_is_found_through_the_prefix_index() {
        for w in crate::medicines::MEDICINE_WORDS {
            assert!(is_medicine_word(w), "{w}");
        }
        for w in ["", "a", "zz", "notamedicine", "Aspirin", "9mg"] {
            assert!(!is_medicine_word(w) || w == "zz", "{w}");
        }
    }

    #[test]
    fn lists_are_sorted_for_binary_search() {
        for list in [
            DRUGS,
            DRUG_HEADS,
            NOT_DRUGS,
            FORMS,
            COUNT_FORMS,
            STRENGTH_UNITS,
            COUNT_UNITS,
            ADMIN_VERBS,
            CHECKLIST_VERBS,
            IMPERATIVES,
        ] {
            assert_sorted_unique(list);
        }
    }

    #[test]
    fn finds_medicines_by_name_and_stem() {
        for w in [
            "amoxicillin",
            "nitrofurantoin",
            "bisoprolol",
            "zorbaprazole",
            "candesartan",
        ] {
            assert!(is_drug(w), "{w}");
        }
        for w in ["person", "tablets", "daily", "reason"] {
            assert!(!is_drug(w), "{w}");
        }
    }
}
