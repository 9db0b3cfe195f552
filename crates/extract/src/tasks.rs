//! One-off tasks: what makes a clause a checklist item ("book", "pick up", "get … done",
//! "see your dentist", "drop off", "complete the questionnaire", "self-refer") and what
//! does not (a verb used as a noun, the clinician's own call, a repeating routine), and
//! the item's title.

use crate::lexicon::is_checklist_verb;
use crate::tokens::{Doc, Kind, View};
use crate::{clauses, clock, frequency, sentences, titles};

/// Objects that name nothing on their own: a checklist title borrows the sentence's context.
const VAGUE_OBJECTS: &[&str] = &[
    "a",
    "an",
    "another",
    "appointment",
    "back",
    "appointments",
    "it",
    "new",
    "one",
    "that",
    "the",
    "them",
    "these",
    "this",
    "those",
    "up",
    "replacement",
    "your",
];

/// Where a checklist item's object ends.
const PREPOSITIONS: &[&str] = &[
    "after", "at", "before", "by", "for", "from", "in", "on", "online", "this", "through", "to",
    "today", "tomorrow", "via", "with", "within",
];

/// What "have … " or "go for …" must mention to be a one-time task.
const TESTS: &[&str] = &[
    "appointment",
    "audiogram",
    "biopsy",
    "blood",
    "bloods",
    "bloodwork",
    "bmp",
    "booster",
    "cbc",
    "check-up",
    "checked",
    "checkup",
    "cholesterol",
    "clips",
    "cmp",
    "colonoscopy",
    "ct",
    "cxr",
    "done",
    "drawn",
    "ecg",
    "echo",
    "echocardiogram",
    "ekg",
    "endoscopy",
    "exam",
    "examination",
    "fbc",
    "ferritin",
    "fitted",
    "flu",
    "glucose",
    "hba1c",
    "holter",
    "imaging",
    "immunisation",
    "immunization",
    "injection",
    "inr",
    "jab",
    "kidney",
    "kidneys",
    "lab",
    "labs",
    "labwork",
    "lft",
    "lfts",
    "lipids",
    "mammogram",
    "measured",
    "mri",
    "phlebotomy",
    "physio",
    "physiotherapy",
    "potassium",
    "psa",
    "radiology",
    "removed",
    "repeat",
    "review",
    "sample",
    "scan",
    "screening",
    "shot",
    "shots",
    "smear",
    "specimen",
    "spirometry",
    "staples",
    "stitches",
    "sutures",
    "swab",
    "taken",
    "test",
    "tests",
    "thyroid",
    "tsh",
    "ultrasound",
    "urine",
    "vaccination",
    "vaccine",
    "vitamin",
    "weighed",
    "x-ray",
    "xray",
];

/// "contact-lens wearer", "Phone consult", "Telephone triage 08:50", "Return precautions
/// reviewed", "(phone)": a verb's word used as a noun.
pub(crate) fn is_noun_use(v: View<'_, '_>, cstart: usize) -> bool {
    let head = v.w(cstart);
    let next = v.w(cstart + 1);
    // "(video, Attend Anywhere)": a capitalised verb inside a sentence is a name.
    if matches!(v.doc.text(cstart.wrapping_sub(1)), "," | "(")
        && v.doc
            .orig(cstart)
            .starts_with(|c: char| c.is_ascii_uppercase())
    {
        return true;
    }
    (next == "-" && v.glued(cstart + 1) && head != "self" && head != "follow")
        || matches!(next, ")" | ",")
        || (matches!(
            head,
            "phone" | "telephone" | "call" | "email" | "video" | "contact"
        ) && matches!(
            next,
            "consult"
                | "consultation"
                | "review"
                | "call"
                | "appointment"
                | "follow"
                | "lens"
                | "lenses"
                | "details"
                | "number"
                | "follow-up"
                | "summary"
                | "encounter"
                | "visit"
                | "contact"
                | "from"
                | "with"
                | "today"
                | "note"
                | "notes"
                | "medication"
                | "medicines"
                | "triage"
                | "assessment"
                | "session"
                | "check"
                | "conversation"
        ))
        || (head == "return" && matches!(next, "precautions" | "advice" | "instructions"))
}

/// The verb of a task told as "-ing" after its subject ("bringing", "collecting").
pub(crate) fn base_verb(w: &str) -> &str {
    match w {
        "bringing" => "bring",
        "collecting" => "collect",
        "picking" => "pick",
        "buying" => "buy",
        "booking" => "book",
        "getting" => "get",
        "ordering" => "order",
        "calling" => "call",
        "phoning" => "phone",
        "dropping" => "drop",
        "arranging" => "arrange",
        _ => w,
    }
}

/// Who a patient goes to see: "see your dentist", "visit the eye doctor".
#[rustfmt::skip]
pub(crate) const PROVIDERS: &[&str] = &[
    "audiologist", "cardiologist", "chiropodist", "clinic", "consultant", "dentist",
    "dermatologist", "dietician", "dietitian", "doctor", "dr", "gp", "gynaecologist",
    "gynecologist", "hygienist", "lab", "midwife", "nurse", "ophthalmologist", "optician",
    "optometrist", "orthodontist", "pcp", "pharmacist", "physio", "physiotherapist", "podiatrist",
    "podiatry", "specialist", "surgeon", "therapist", "urologist",
];

/// What "complete …" must be about to be a one-time task (not "complete the course").
const FORMS_TO_COMPLETE: &[&str] = &[
    "assessment",
    "booklet",
    "chart",
    "diary",
    "form",
    "forms",
    "gad",
    "labs",
    "log",
    "paperwork",
    "phq",
    "questionnaire",
    "questionnaires",
    "referral",
    "registration",
    "survey",
    "test",
    "tests",
];

/// A one-time action: led by a checklist verb, "have … done", "make an appointment",
/// or a passive "to be booked".
pub(crate) fn is_checklist(
    v: View<'_, '_>,
    cstart: usize,
    freq: &frequency::Found,
    times: &[clock::Hit],
    in_context: bool,
) -> bool {
    // "Daughter bringing her hearing aid tonight": the -ing form of the task's verb.
    // (Only after its subject: "Booking visit at 10 weeks" is a heading.)
    let head = if cstart > v.start {
        base_verb(v.w(cstart))
    } else {
        v.w(cstart)
    };
    let scheduled =
        freq.explicit().is_some() || freq.weekday_interval().is_some() || !times.is_empty();
    let mentions_any = |words: &[&str]| (cstart..v.end).any(|i| words.contains(&v.w(i)));
    // A verb alone ("Schedule:" as a heading) is no task.
    let has_object = (cstart + 1..v.end)
        .any(|i| v.kind(i) == Some(Kind::Word) || v.kind(i) == Some(Kind::Number));
    let noun_use = is_noun_use(v, cstart);
    // "I will ring back", "we'll book the scan": the clinician's task, not the patient's.
    let clinician = (v.start..cstart).any(|i| {
        matches!(
            v.w(i),
            "i" | "we" | "i'll" | "we'll" | "i’ll" | "we’ll" | "i'd" | "we'd"
        )
    }) && !(v.start..cstart).any(|i| {
        // "I have asked her to book…": the patient's task after all.
        matches!(
            v.w(i),
            "asked"
                | "advised"
                | "told"
                | "instructed"
                | "encouraged"
                | "reminded"
                | "her"
                | "him"
                | "them"
                | "patient"
                | "pt"
                | "you"
        )
    });
    if noun_use || (clinician && is_checklist_verb(head)) {
        return false;
    }
    // "get up slowly", "get plenty of rest": a way of doing, not a thing to get.
    if head == "get"
        && matches!(
            v.w(cstart + 1),
            "up" | "out"
                | "better"
                | "worse"
                | "dressed"
                | "moving"
                | "used"
                | "plenty"
                | "enough"
                | "some"
                | "into"
                | "back"
        )
    {
        return false;
    }
    if is_checklist_verb(head) {
        // "Fill out the symptom checklist every evening for 7 days" repeats: a plan step.
        let repeats = freq.explicit().is_some()
            || freq.weekday_interval().is_some()
            || (freq.cue_count() > 0 && mentions_any(&["every", "each", "nightly"]));
        return (has_object || in_context) && !(head == "repeat" && scheduled) && !repeats;
    }
    // "self-refer to Talking Therapies"
    if head == "self" && v.w(cstart + 1) == "-" && v.w(cstart + 2) == "refer" {
        return !scheduled;
    }
    // "recheck TFTs", "re-check bloods", "check U&E in 2 weeks" (a test, not a routine).
    if head == "recheck" || (head == "re" && v.w(cstart + 1) == "-" && v.w(cstart + 2) == "check") {
        return !scheduled;
    }
    let cued = freq.cue_count() > 0;
    match head {
        "have" | "go" | "check" => {
            !scheduled
                && !cued
                && (mentions_any(TESTS) || (head == "check" && v.w(cstart + 1) == "in"))
        }
        // "See your dentist within the next month", "visit the eye doctor", "see the nurse
        // for a wound check"; not "see below".
        "see" | "visit" => {
            !scheduled
                && (cstart + 1..v.end.min(cstart + 5))
                    .any(|i| crate::lexicon::has(PROVIDERS, v.w(i)))
        }
        // "Stop by the lab…", "check in with us by phone", "set up a follow-up visit".
        "stop" => matches!(v.w(cstart + 1), "by" | "in" | "at") && !scheduled,
        "set" => v.w(cstart + 1) == "up" && has_object && !scheduled,
        "watch" => mentions_any(&["video", "videos", "webinar"]) && !scheduled,
        // "Apply for a blue badge" (not "apply the cream").
        "apply" => v.w(cstart + 1) == "for" && !scheduled,
        // "Let us know your readings in 2 weeks."
        "let" => {
            matches!(v.w(cstart + 1), "us" | "me" | "the" | "your")
                && (cstart + 2..v.end.min(cstart + 5)).any(|i| v.w(i) == "know")
                && !scheduled
        }
        // Less common one-off verbs, with what they must be about.
        // "Return the old inhalers to the pharmacy"; not "return to clinic in 2 weeks".
        "return" => {
            has_object
                && !scheduled
                && !matches!(
                    v.w(cstart + 1),
                    "to" | "in"
                        | "if"
                        | "after"
                        | "with"
                        | "home"
                        | "when"
                        | "next"
                        | "on"
                        | "at"
                        | "urgently"
                        | "immediately"
                        | "sooner"
                        | "."
                        | "right"
                        | "straight"
                        | "promptly"
                        | "here"
                        | "now"
                        | "it"
                        | "them"
                )
        }
        // "Follow up with Orthopedics in 1 week", "follow-up with your PCP"; not "follow up
        // with me", a return to this clinic.
        "follow" => {
            (v.w(cstart + 1) == "up" || (v.w(cstart + 1) == "-" && v.w(cstart + 2) == "up"))
                && (cstart..v.end.min(cstart + 5))
                    .any(|i| v.w(i) == "with" && !matches!(v.w(i + 1), "me" | "us" | "this"))
                && !scheduled
        }
        // "Come back to the dressing clinic on Thursday for a wound check".
        // (An appointment's clock time is when to come, not a schedule.)
        "come" => {
            v.w(cstart + 1) == "back"
                && freq.explicit().is_none()
                && freq.weekday_interval().is_none()
                && (mentions_any(TESTS) || mentions_any(&["clinic"]))
        }
        // "He will wear a 14-day Zio patch": a recorder worn once, not a daily routine.
        "wear" => {
            mentions_any(&["monitor", "holter", "zio", "recorder", "patch"])
                && freq.explicit().is_none()
                && freq.weekday_interval().is_none()
                && freq.cue_count() == 0
        }
        "bring" => {
            has_object
                && !scheduled
                && !mentions_any(&[
                    "readings",
                    "reading",
                    "results",
                    "them",
                    "it",
                    "log",
                    "weights",
                    "measurements",
                    "numbers",
                    "scores",
                ])
        }
        "photograph" | "photo" | "upload" | "mail" | "fax" | "post" => has_object && !scheduled,
        // "remove the outer dressings on day 2"; not "remove the old patch before…".
        "remove" => {
            !scheduled
                && mentions_any(&[
                    "dressing",
                    "dressings",
                    "stitches",
                    "sutures",
                    "clips",
                    "staples",
                    "bandage",
                    "bandages",
                    "splint",
                    "cast",
                    "packing",
                    "drain",
                    "catheter",
                    "plaster",
                ])
                && !mentions_any(&["before", "old"])
        }
        "drop" => v.w(cstart + 1) == "off" && !scheduled,
        "ask" => !scheduled && mentions_any(&["for"]),
        // "Wash all bedding on a hot wash today", "throw away the old lens case today": a
        // concrete job with a one-time marker.
        "wash" | "throw" | "discard" | "dispose" | "clean" | "download" | "install" | "print"
        | "charge" | "pack" | "bin" => {
            has_object
                && !scheduled
                && !cued
                && (cstart..v.end).any(|i| {
                    matches!(v.w(i), "today" | "tonight" | "tomorrow")
                        || (v.w(i) == "this"
                            && matches!(
                                v.w(i + 1),
                                "week" | "morning" | "afternoon" | "evening" | "weekend"
                            ))
                })
        }
        // "Take the referral letter to the imaging department."
        "take"
            if mentions_any(&[
                "letter",
                "form",
                "forms",
                "card",
                "referral",
                "paperwork",
                "records",
                "list",
                "sample",
                "specimen",
            ]) && !scheduled
                && !mentions_any(&["tablet", "tablets", "dose", "doses", "mg"]) =>
        {
            true
        }
        // "Take my old inhalers back to the pharmacy": a return.
        "take" => {
            !scheduled
                && v.w(cstart + 1) != "back"
                && mentions_any(&["back"])
                && !mentions_any(&["tablet", "tablets", "dose", "doses"])
        }
        // "inform the DVLA", "notify your insurer"; not "inform patient when ready".
        "inform" | "notify" => {
            has_object
                && !scheduled
                && !matches!(
                    v.w(cstart + 1),
                    "patient" | "pt" | "us" | "me" | "if" | "when"
                )
        }
        "do" => !scheduled && mentions_any(TESTS),
        "complete" => !scheduled && mentions_any(FORMS_TO_COMPLETE),
        "make" => mentions_any(&["appointment", "booking"]),
        "sign" => v.w(cstart + 1) == "up",
        _ => {
            !scheduled
                && (cstart..v.end).any(|i| {
                    v.w(i) == "be"
                        && matches!(
                            v.w(i + 1),
                            "booked"
                                | "arranged"
                                | "scheduled"
                                | "ordered"
                                | "requested"
                                | "organised"
                                | "organized"
                                | "repeated"
                                | "collected"
                                | "bought"
                        )
                })
        }
    }
}

/// Two words with the same first four letters ("photograph", "photo").
pub(crate) fn shares_stem(a: &str, b: &str) -> bool {
    a.len() >= 4 && b.len() >= 4 && a.as_bytes()[..4] == b.as_bytes()[..4]
}

/// The words after the verb up to a preposition say nothing ("return it", "book one").
pub(crate) fn vague_object(v: View<'_, '_>, cstart: usize) -> bool {
    let object_end = (cstart + 1..v.end)
        .find(|&i| PREPOSITIONS.contains(&v.w(i)) && !(i == cstart + 1 && v.w(i) == "up"))
        .unwrap_or(v.end);
    (cstart + 1..object_end)
        .all(|i| v.kind(i) == Some(Kind::Punct) || VAGUE_OBJECTS.contains(&v.w(i)))
}

pub(crate) fn checklist_title(
    doc: &Doc<'_>,
    v: View<'_, '_>,
    cstart: usize,
    sentence: &sentences::Sentence,
    clause: &clauses::Clause,
) -> Option<String> {
    let title = titles::from_tokens(v, cstart, v.end)?;
    // The object: the words after the verb up to a preposition ("book it with the nurse").
    if !vague_object(v, cstart) {
        return Some(title);
    }
    // "Sutures out in 10 days — book the appointment": the rest of the sentence says what.
    let sv = View::new(doc, sentence.toks.start, sentence.toks.end);
    let context = if clause.start > sentence.toks.start {
        titles::from_tokens(sv, sentence.toks.start, clause.start)
    } else {
        titles::from_tokens(sv, clause.end, sentence.toks.end)
    };
    Some(match context {
        Some(c) => format!("{title} ({c})"),
        None => title,
    })
}
