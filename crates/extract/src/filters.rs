//! What is not an instruction, though it may read like one.
//!
//! History ("was on", "completed the course", "previously"), stopping ("stop metformin"),
//! advice against ("advised not to", "avoid"), conditions not yet in force ("if no better,
//! start …"), as-needed use ("as required", "PRN", "up to four times a day"), limits ("do
//! not exceed") and narrative about the patient ("she reports taking …"). Quotations never
//! get here: the tokenizer blanks them. Each check reads a clause's words once.

use crate::lexicon::undotted;
use crate::tokens::View;

/// Why a clause gives no step (empty: it may).
// A set of independent reasons, any of which may hold at once.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub history: bool,
    pub negated: bool,
    pub conditional: bool,
    pub as_needed: bool,
    pub narrative: bool,
}

impl Flags {
    pub fn blocks(self) -> bool {
        self.history || self.negated || self.conditional || self.as_needed || self.narrative
    }

    pub fn or(self, o: Flags) -> Flags {
        Flags {
            history: self.history || o.history,
            negated: self.negated || o.negated,
            conditional: self.conditional || o.conditional,
            as_needed: self.as_needed || o.as_needed,
            narrative: self.narrative || o.narrative,
        }
    }
}

/// People whose doings, told in the third person, are narrative.
#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "aunt", "boyfriend", "brother", "carer", "carers", "child", "dad", "daughter", "family",
    "father", "fiance", "fiancee", "friend", "girlfriend", "granddaughter", "grandfather",
    "grandma", "grandmother", "grandpa", "grandson", "guardian", "he", "her", "his", "husband",
    "i", "mom", "mother", "mum", "neighbor", "neighbour", "nephew", "niece", "parent", "parents",
    "partner", "patient", "patients", "pt", "she", "sister", "son", "spouse", "stepfather",
    "stepmother", "their", "they", "uncle", "we", "wife",
];

/// The team: what they are to do is theirs, not the patient's ("DN to redo the dressing",
/// "Night staff to do 4-hourly obs", "The specialist nurse will phone").
#[rustfmt::skip]
const STAFF: &[&str] = &[
    "audiology", "cardiology", "consultant", "dermatology", "dietetics", "dietician", "dietitian",
    "district", "dn", "dns", "doctor", "doctors", "dr", "gp", "hca", "hcas", "imaging",
    "laboratory", "midwife", "nurse", "nurses", "nursing", "orthotics", "ot", "pharmacist",
    "pharmacy", "phlebotomy", "physio", "physiotherapist", "physiotherapy", "podiatry",
    "radiology", "registrar", "rheumatology", "salt", "specialist", "staff", "team", "urology",
    "ward",
];

/// What turns a subject into someone being told what to do ("patient to take", "she
/// should", "we will start").
const INSTRUCTED: &[&str] = &[
    "advised",
    "agreed",
    "agrees",
    "asked",
    "can",
    "could",
    "encouraged",
    "has",
    "have",
    "instructed",
    "is",
    "may",
    "must",
    "needs",
    "need",
    "requires",
    "should",
    "shall",
    "to",
    "told",
    "was",
    "will",
    "would",
    "'ll",
    "’ll",
];

/// What a clinician has already done ("we have arranged an MRI"): not the patient's task.
const CLINICIAN_DONE: &[&str] = &[
    "arranged",
    "booked",
    "called",
    "discussed",
    "emailed",
    "faxed",
    "made",
    "ordered",
    "organised",
    "organized",
    "phoned",
    "referred",
    "requested",
    "sent",
    "spoken",
    "written",
];

/// Past participles that make "patient was … to" an instruction.
const ADVISED: &[&str] = &["advised", "asked", "encouraged", "instructed", "told"];

/// Where the words of instruction start: past "please", "you should", "patient to",
/// "advised to", "remember to", connectives and list bullets. Also says whether the
/// clause is narrative (a person told about, not told to).
pub(crate) fn content_start(v: View<'_, '_>) -> (usize, bool) {
    let mut j = v.start;
    while j < v.end {
        let w = v.w(j);
        let skip = match w {
            // "…and must inform the DVLA", "…and will order it online": a clause of its own
            // that opens with the modal.
            "should" | "must" | "will" | "shall"
                if j == v.start
                    && (crate::lexicon::is_checklist_verb(v.w(j + 1))
                        || crate::lexicon::is_imperative(v.w(j + 1))
                        || crate::lexicon::is_admin_verb(v.w(j + 1))
                        || matches!(v.w(j + 1), "inform" | "notify" | "order")) =>
            {
                1
            }
            "should" | "must" | "will" | "would" | "need" | "needs" | "shall" if j == v.start => 0,
            "please" | "also" | "and" | "then" | "so" | "now" | "kindly" | "thereafter"
            | "additionally" | "finally" | "first" | "firstly" | "secondly" | "next" | "you"
            | "should" | "must" | "will" | "would" | "need" | "needs" | "to" | "shall"
            | "advised" | "asked" | "instructed" | "told" | "encouraged" | "reminded"
            | "recommended" | "recommend" | "advise" | "remember" | "ensure" | "plan" | "plan:"
            | "rx" | "'ll" | "’ll" | "," | "-" | "•" | "*" | ":" | "(" | "&" | "+" | "i'd"
            | "“" | "”" | "\"" | "‘" | "’" | "[" | "]" | "☐" | "□" | "✓" | "✔" | "we'd"
            | "like" | "instr" | "instructions" => 1,
            "agreed" | "agree" if v.w(j + 1) == "on" => 2,
            "make" | "be" if v.w(j + 1) == "sure" => 2,
            "don't" | "dont" if v.w(j + 1) == "forget" => 2,
            "do" if v.w(j + 1) == "not" && v.w(j + 2) == "forget" => 3,
            "followed" | "after" if matches!(v.w(j + 1), "by" | "that") => 2,
            // "I have asked her to book…", "advised him to buy…": the patient, told.
            "him" | "her" | "them" if v.w(j + 1) == "to" => 2,
            "i" | "we"
                if matches!(v.w(j + 1), "have" | "'ve" | "’ve")
                    && matches!(
                        v.w(j + 2),
                        "asked"
                            | "advised"
                            | "told"
                            | "instructed"
                            | "encouraged"
                            | "reminded"
                            | "recommended"
                    ) =>
            {
                3
            }
            // "…, which she fills weekly": a relative clause describes.
            "which" | "who" | "whose" if j == v.start => return (j, true),
            // "I increased his metformin to 1000 mg…", "we started Trulicity…": prescribed.
            "i" | "we"
                if matches!(
                    v.w(j + 1),
                    "increased"
                        | "started"
                        | "reduced"
                        | "decreased"
                        | "changed"
                        | "switched"
                        | "added"
                        | "prescribed"
                        | "restarted"
                        | "commenced"
                        | "gave"
                ) =>
            {
                1
            }
            // "We have arranged an MRI", "I've referred him": done by the clinician.
            "i" | "we"
                if matches!(v.w(j + 1), "have" | "'ve" | "’ve" | "had")
                    && CLINICIAN_DONE.contains(&v.w(j + 2)) =>
            {
                return (j, true);
            }
            // "He has agreed to attend…", "She is happy to book…".
            _ if crate::lexicon::has(SUBJECTS, w)
                && matches!(v.w(j + 1), "has" | "have" | "is" | "was")
                && matches!(v.w(j + 2), "agreed" | "happy" | "keen" | "willing")
                && v.w(j + 3) == "to" =>
            {
                4
            }
            _ if crate::lexicon::has(SUBJECTS, w)
                && matches!(
                    v.w(j + 1),
                    "agrees" | "agreed" | "wishes" | "plans" | "intends" | "needs" | "wants"
                )
                && v.w(j + 2) == "to" =>
            {
                3
            }
            // "Mrs Brennan will book a DEXA scan", "Mr Hall is to phone…": the patient by name.
            "mr" | "mrs" | "ms" | "miss"
                if v.w(j + 1).len() > 1
                    && matches!(
                        v.w(j + 2),
                        "will" | "is" | "should" | "to" | "must" | "needs"
                    ) =>
            {
                2
            }
            // "…and is to change it every 3 days": the subject is the clause before's.
            "is" | "are" if j == v.start && v.w(j + 1) == "to" => 2,
            // "Daughter bringing her hearing aid tonight": a relative's task, told in -ing.
            _ if crate::lexicon::has(SUBJECTS, w)
                && crate::tasks::base_verb(v.w(j + 1)) != v.w(j + 1) =>
            {
                1
            }
            // "She continues on amlodipine 10 mg daily": a medicine carried on.
            _ if crate::lexicon::has(SUBJECTS, w) && v.w(j + 1) == "continues" => 2,
            // "She goes home on cefalexin…", "he is going home on…": her discharge plan.
            _ if crate::lexicon::has(SUBJECTS, w)
                && matches!(v.w(j + 1), "goes" | "went")
                && v.w(j + 2) == "home" =>
            {
                3
            }
            // "His niece is to pick up…": a possessive before the person.
            "his" | "her" | "their" | "your" if crate::lexicon::has(SUBJECTS, v.w(j + 1)) => 1,
            // "His hydrocortisone has been changed to…": the possessive of a thing.
            "his" | "her" | "their" if v.kind(j + 1) == Some(crate::tokens::Kind::Word) => 1,
            // "Please could he bring…", "could she drop off…": the patient, asked.
            "could" | "can" if matches!(v.w(j + 1), "he" | "she" | "they" | "the") => {
                if v.w(j + 1) == "the" {
                    3
                } else {
                    2
                }
            }
            // "Night staff to do…", "The diabetes specialist nurse will phone…".
            _ if staff_subject(v, j) => return (j, true),
            // "He is to phone the group", "She is going to get an X-ray done".
            // "He is also to phone the stop smoking service".
            _ if crate::lexicon::has(SUBJECTS, w)
                && matches!(v.w(j + 1), "is" | "are")
                && matches!(v.w(j + 2), "also" | "now" | "then" | "still")
                && v.w(j + 3) == "to" =>
            {
                4
            }
            _ if crate::lexicon::has(SUBJECTS, w)
                && matches!(v.w(j + 1), "is" | "are")
                && (v.w(j + 2) == "to" || (v.w(j + 2) == "going" && v.w(j + 3) == "to")) =>
            {
                if v.w(j + 2) == "to" {
                    3
                } else {
                    4
                }
            }
            _ if crate::lexicon::has(SUBJECTS, w) => {
                let next = v.w(j + 1);
                let told = |k: usize| ADVISED.contains(&v.w(k));
                if matches!(next, "was" | "is" | "has" | "had" | "were") && told(j + 2) {
                    2
                } else if matches!(next, "has" | "have" | "had")
                    && v.w(j + 2) == "been"
                    && told(j + 3)
                {
                    3
                } else if matches!(next, "has" | "have")
                    && v.w(j + 2) == "been"
                    && matches!(
                        v.w(j + 3),
                        "started"
                            | "switched"
                            | "restarted"
                            | "increased"
                            | "reduced"
                            | "changed"
                            | "prescribed"
                            | "given"
                            | "put"
                    )
                {
                    // "She has been switched to rivaroxaban…": a change made today.
                    3
                } else if matches!(next, "is" | "are")
                    && v.w(j + 2) == "being"
                    && matches!(v.w(j + 3), "discharged" | "sent")
                {
                    // "She is being discharged home today on cephalexin…": her plan.
                    4
                } else if matches!(next, "is" | "are")
                    && (matches!(v.w(j + 2), "starting" | "taking" | "using" | "beginning")
                        || (matches!(v.w(j + 2), "also" | "now" | "then")
                            && matches!(v.w(j + 3), "starting" | "taking" | "using" | "beginning")))
                {
                    // "She is also starting prednisolone…"
                    if matches!(v.w(j + 2), "also" | "now" | "then") {
                        3
                    } else {
                        2
                    }
                } else if matches!(next, "has" | "have")
                    && matches!(
                        v.w(j + 2),
                        "started" | "switched" | "restarted" | "increased"
                    )
                {
                    // "He has started finasteride 5 mg once daily": a change made today.
                    2
                } else if INSTRUCTED.contains(&next)
                    && !(next == "was" || next == "has" || next == "is")
                {
                    1
                } else if w == "i" || w == "we" {
                    if matches!(
                        next,
                        "have"
                            | "'ve"
                            | "’ve"
                            | "am"
                            | "are"
                            | "would"
                            | "recommend"
                            | "advise"
                            | "suggest"
                            | "prescribe"
                            | "prescribed"
                            | "started"
                            | "plan"
                    ) {
                        2
                    } else {
                        return (j, true);
                    }
                } else {
                    return (j, true);
                }
            }
            _ => 0,
        };
        if skip == 0 {
            break;
        }
        j += skip;
    }
    (j, false)
}

/// Whether a member of the team opens the clause at `j` and is the one to act: up to three
/// words ("the diabetes specialist nurse") ending in a staff word, then "to", "will",
/// "should" or "has".
/// A member of the team or a department ("GP", "DN", "audiology").
pub(crate) fn is_staff_word(w: &str) -> bool {
    crate::lexicon::has(STAFF, w)
}

fn staff_subject(v: View<'_, '_>, j: usize) -> bool {
    // "Phone your pharmacy to…" is an order to the patient.
    let lead = v.w(j);
    if crate::lexicon::is_imperative(lead) || crate::lexicon::is_checklist_verb(lead) {
        return false;
    }
    let mut k = j;
    if matches!(v.w(k), "the" | "our" | "your" | "a") {
        k += 1;
    }
    let mut seen_staff = false;
    for _ in 0..4 {
        let w = v.w(k);
        if crate::lexicon::has(STAFF, w) {
            seen_staff = true;
        } else if seen_staff {
            break;
        } else if v.kind(k) != Some(crate::tokens::Kind::Word) || crate::lexicon::has(SUBJECTS, w) {
            return false;
        }
        k += 1;
    }
    seen_staff
        && matches!(
            v.w(k),
            "to" | "will" | "should" | "has" | "have" | "are" | "is" | "would" | "can" | "may"
        )
}

fn is_year(w: &str) -> bool {
    w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1950..=2035).contains(&y))
}

fn is_month(w: &str) -> bool {
    matches!(
        w,
        "january"
            | "jan"
            | "february"
            | "feb"
            | "march"
            | "mar"
            | "april"
            | "apr"
            | "may"
            | "june"
            | "jun"
            | "july"
            | "jul"
            | "august"
            | "aug"
            | "september"
            | "sep"
            | "sept"
            | "october"
            | "oct"
            | "november"
            | "nov"
            | "december"
            | "dec"
    )
}

/// Reads a clause's words from `from` and says what keeps it from being a step.
pub(crate) fn flags(v: View<'_, '_>, from: usize) -> Flags {
    let mut f = Flags::default();
    let first = from;
    let mut i = from;
    while i < v.end {
        let w = v.w(i);
        let next = v.w(i + 1);
        let next2 = v.w(i + 2);
        match undotted(w).as_ref() {
            // History.
            "previously" | "formerly" | "completed" | "finished" | "tried" | "took" | "ago"
            | "history" | "hx" | "prior" | "since" | "was" | "were" | "had" | "already"
            | "yesterday" | "recently" | "initially" | "originally" | "failed" => {
                f.history = true;
            }
            // "has been reduced to 40 mg twice daily": a change made now, not the past.
            "been"
                if !matches!(
                    next,
                    "increased"
                        | "reduced"
                        | "decreased"
                        | "changed"
                        | "switched"
                        | "started"
                        | "restarted"
                        | "titrated"
                        | "prescribed"
                        | "advised"
                        | "asked"
                        | "told"
                        | "instructed"
                ) =>
            {
                f.history = true;
            }
            "used" if next == "to" => f.history = true,
            // "started ramipril 2.5 mg once daily on the 4th", "started … on 2 February": a
            // date makes a start the past.
            "started" | "began" | "commenced"
                if (i..v.end.min(i + 14)).any(|k| {
                    (v.w(k) == "on"
                        && (v.w(k + 1) == "the" || is_month(v.w(k + 2)) || is_month(v.w(k + 1))))
                        || (v.kind(k) == Some(crate::tokens::Kind::Number) && is_month(v.w(k + 1)))
                }) =>
            {
                f.history = true;
            }
            // "catheter changed today", "dressing changed yesterday": done.
            "changed" | "inserted" | "removed" | "replaced"
                if i > first
                    && matches!(next, "today" | "yesterday" | "this" | "on" | "at" | "last")
                    && !matches!(
                        v.w(i.wrapping_sub(1)),
                        "be" | "been" | "to" | "get" | "have" | "had"
                    )
                    && !matches!(v.w(first), "have" | "get" | "book" | "arrange" | "please") =>
            {
                f.history = true;
            }
            // "Needs twice-daily visits for insulin": visits are the team's.
            "visits" | "visit"
                if (first..v.end)
                    .any(|k| matches!(v.w(k), "needs" | "requires" | "needing" | "having")) =>
            {
                f.narrative = true;
            }
            // Ward observations are the nurses' work: "Neuro obs hourly for 4 h".
            "obs" | "observations" => f.narrative = true,
            // A course with a year is a past one: "in March 2024", "(2023)", "since 2019".
            _ if is_year(w)
                && i > first
                && (matches!(
                    v.w(i.wrapping_sub(1)),
                    "in" | "since" | "during" | "from" | "of" | "("
                ) || is_month(v.w(i.wrapping_sub(1)))) =>
            {
                f.history = true;
            }
            // "given in surgery", "IV given at 16:10"; not "to be given weekly".
            // "given at 16:10", "was given in surgery"; not "I have given him…" (prescribed
            // today) nor "to be given weekly".
            "given" | "administered"
                if i == first
                    || !matches!(
                        v.w(i.wrapping_sub(1)),
                        "be" | "have" | "has" | "'ve" | "’ve" | "also" | "just" | "now"
                    ) =>
            {
                f.history = true;
            }
            // ("Text the link to anyone you've had sex with in the last 6 months" is an
            // order; the time belongs to the people it names.)
            "in" | "for" | "over"
                if next == "the"
                    && matches!(next2, "past" | "last")
                    && !crate::lexicon::is_checklist_verb(v.w(first)) =>
            {
                f.history = true;
            }
            "last"
                if matches!(
                    next,
                    "week"
                        | "weeks"
                        | "month"
                        | "months"
                        | "year"
                        | "years"
                        | "night"
                        | "time"
                        | "visit"
                        | "admission"
                        | "course"
                ) =>
            {
                f.history = true;
            }
            // Stopping and advice against.
            // "the stop smoking clinic": a service's name.
            "stop"
                if next == "smoking"
                    && matches!(
                        next2,
                        "clinic"
                            | "service"
                            | "services"
                            | "team"
                            | "advisor"
                            | "adviser"
                            | "support"
                            | "programme"
                            | "program"
                            | "group"
                            | "nurse"
                    ) => {}
            // "stop by the lab", "stop in at reception": a visit.
            "stop" if matches!(next, "by" | "in" | "at") && i == first => {}
            "stop" | "stopped" | "stopping" | "discontinue" | "discontinued" | "cease"
            | "ceased" | "withhold" | "suspend" | "avoid" | "avoiding" | "never" | "refrain"
            | "nor" | "shouldn't" | "mustn't" | "cannot" | "can't" | "omit" | "against" => {
                f.negated = true;
            }
            "hold" | "no" | "none" | "off" if i == first => f.negated = true,
            // "which we will request", "we will arrange": the team's task.
            "we" | "i"
                if next == "will"
                    && matches!(
                        next2,
                        "request"
                            | "arrange"
                            | "book"
                            | "refer"
                            | "send"
                            | "organise"
                            | "organize"
                            | "order"
                            | "write"
                            | "contact"
                            | "see"
                            | "review"
                    ) =>
            {
                f.narrative = true;
            }
            // "for no longer than 10 days at a time" is a limit, not a stop.
            "no" if next == "longer" && next2 == "than" => {}
            "no" if next == "longer" || next == "need" || next == "further" => f.negated = true,
            "come" | "coming" if next == "off" => f.negated = true,
            "not" | "don't" | "dont" | "doesn't" => {
                // "not more than", "not to exceed" are limits: as-needed, not a schedule.
                if matches!(next, "exceed" | "exceeding" | "more")
                    || (next == "to" && next2 == "exceed")
                {
                    f.as_needed = true;
                } else {
                    f.negated = true;
                }
            }
            // Conditions not yet in force.
            "if" | "though" | "when" if i > first && v.w(i.wrapping_sub(1)) == "even" => {}
            "reduce" | "decrease" | "increase" if next == "by" => f.conditional = true,
            "taper" | "tapering" | "wean" | "weaning" => f.conditional = true,
            "if" | "unless" | "whenever" | "otherwise" | "consider" | "considering" | "should"
                if w != "should" || i == first =>
            {
                if matches!(next, "needed" | "required" | "necessary" | "symptomatic") {
                    f.as_needed = true;
                } else {
                    f.conditional = true;
                }
            }
            // "when the invitation letter arrives": timing, not a condition.
            "when"
                if matches!(next, "the" | "your" | "his" | "her")
                    && matches!(
                        next2,
                        "letter"
                            | "invitation"
                            | "appointment"
                            | "date"
                            | "results"
                            | "result"
                            | "call"
                            | "text"
                            | "kit"
                            | "prescription"
                    ) => {}
            "when" => {
                if matches!(next, "needed" | "required" | "necessary") {
                    f.as_needed = true;
                } else if i == first {
                    f.conditional = true;
                } else {
                    f.as_needed = true;
                }
            }
            "in" if matches!(next, "case") || (next == "the" && next2 == "event") => {
                f.conditional = true;
            }
            "once"
                if i == first
                    && !matches!(next, "daily" | "a" | "per" | "every" | "each" | "weekly") =>
            {
                f.conditional = true;
            }
            // Limits are not schedules: "fluid restriction 1.5 litres a day", "limit salt to
            // less than 2,000 mg a day".
            "limit" | "limits" | "restrict" | "restriction" | "restricted" => f.as_needed = true,
            "less" | "fewer" if next == "than" => f.as_needed = true,
            // "Repeat U&E in 1 week (GP please arrange)": the team's task.
            _ if crate::lexicon::has(STAFF, w)
                && (next == "please" || (next == "to" && v.w(i.wrapping_sub(1)) == "("))
                && i > first =>
            {
                f.narrative = true;
            }
            // As needed.
            "prn" | "sos" | "optional" | "optionally" | "maximum" | "max" | "may" | "might"
            | "can" | "could" => f.as_needed = true,
            "as" if matches!(next, "needed" | "required" | "necessary" | "req" | "reqd") => {
                f.as_needed = true;
            }
            "on" if next == "demand" => f.as_needed = true,
            "at" if next == "onset" || (next == "the" && matches!(next2, "onset" | "first")) => {
                f.as_needed = true;
            }
            // "up to four times a day" is a ceiling; "for up to 2 weeks" is a course.
            "up" if next == "to" && (i == 0 || v.w(i.wrapping_sub(1)) != "for") => {
                f.as_needed = true;
            }
            "no" if next == "more" => f.as_needed = true,
            // "150s/90s despite lisinopril 20 mg daily": what has not worked, told.
            "despite" => f.narrative = true,
            // "In an emergency: call 999."
            "emergency"
                if i > first && matches!(v.w(i.wrapping_sub(1)), "an" | "of" | "emergencies") =>
            {
                f.conditional = true;
            }
            // Diet is advice: "keep eating the same amount of green vegetables each week".
            "eat" | "eating" if i <= first + 1 => f.as_needed = true,
            // Fluid and food targets are advice: "drink at least six cups of fluid a day".
            "drink" | "drinking"
                if (i..(i + 8).min(v.end)).any(|k| {
                    matches!(
                        v.w(k),
                        "fluid"
                            | "fluids"
                            | "water"
                            | "cups"
                            | "glasses"
                            | "litres"
                            | "liters"
                            | "plenty"
                    )
                }) =>
            {
                f.as_needed = true;
            }
            // A rescue pack or a standby course is for later, if needed.
            // ("Replace the rescue pack" is a task for now.)
            "rescue" | "standby" | "stand-by" if !crate::lexicon::is_checklist_verb(v.w(first)) => {
                f.conditional = true;
            }
            "just" if next == "in" && next2 == "case" => f.conditional = true,
            // Narrative verbs about the patient.
            "reports" | "reported" | "reporting" | "says" | "said" | "states" | "stated"
            | "complains" | "complained" | "denies" | "denied" | "presents" | "presented"
            | "describes" | "described" | "mentions" | "mentioned" | "discussed" | "admits"
            | "admitted" | "feels" | "felt" | "noted" | "noticed" | "experienced"
            | "experiencing" => {
                f.narrative = true;
            }
            _ => {}
        }
        i += 1;
    }
    f
}

/// The clause opens with a condition ("If no better, …", "Should symptoms worsen, …"):
/// what follows it in the sentence is not yet in force either.
pub(crate) fn opens_condition(v: View<'_, '_>, from: usize) -> bool {
    match v.w(from) {
        "if" | "unless" | "should" | "when" | "whenever" | "once" | "otherwise" => !matches!(
            v.w(from + 1),
            "needed" | "required" | "necessary" | "daily" | "a" | "weekly"
        ),
        "in" => {
            v.w(from + 1) == "case"
                || (v.w(from + 1) == "the" && v.w(from + 2) == "event")
                || (matches!(v.w(from + 1), "an" | "emergencies") && v.w(from + 2) == "emergency")
                || v.w(from + 1) == "emergencies"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        for list in [SUBJECTS, STAFF] {
            crate::lexicon::assert_sorted_unique(list);
        }
    }

    fn check(text: &str) -> Flags {
        let doc = Doc::new(text);
        let v = View::new(&doc, 0, doc.toks.len());
        let (start, narrative) = content_start(v);
        let mut f = flags(v, start);
        f.narrative |= narrative;
        f
    }

    #[test]
    fn history_is_not_an_instruction() {
        for text in [
            "was on amoxicillin 500 mg tds",
            "Completed the course of doxycycline twice daily",
            "Previously took ramipril 5 mg daily",
            "had been using salbutamol four times a day",
            "used to take aspirin daily",
            "over the past week took ibuprofen three times a day",
            "tried amitriptyline 10 mg nightly",
        ] {
            assert!(check(text).history, "{text}");
        }
    }

    #[test]
    fn stopping_and_advice_against() {
        for text in [
            "stop metformin",
            "Discontinue the aspirin",
            "advised not to drive",
            "do not take with milk",
            "Don't drink alcohol",
            "avoid NSAIDs",
            "no longer needs warfarin",
            "Hold ramipril for 2 days",
            "never double the dose",
        ] {
            assert!(check(text).negated, "{text}");
        }
    }

    #[test]
    fn conditions_and_as_needed() {
        for text in [
            "if no better, start amoxicillin",
            "unless improved, book a review",
            "Should symptoms worsen, call",
        ] {
            assert!(check(text).conditional, "{text}");
        }
        for text in [
            "paracetamol as needed",
            "salbutamol prn",
            "ibuprofen p.r.n.",
            "as required for pain",
            "up to four times a day",
            "if needed",
            "when required",
            "at onset",
            "you may take 2 tablets",
            "do not exceed 8 tablets a day",
        ] {
            assert!(check(text).as_needed, "{text}");
        }
    }

    #[test]
    fn narrative_and_instructions() {
        assert!(check("Patient reports taking ibuprofen twice daily").narrative);
        assert!(check("She takes ramipril daily").narrative);
        assert!(!check("Patient to take ramipril 5 mg daily").blocks());
        assert!(!check("You should take amoxicillin three times a day").blocks());
        assert!(!check("Please remember to take it daily").blocks());
        assert!(!check("Take amoxicillin three times a day for 7 days").blocks());
        assert!(!check("Don't forget to book the review").blocks());
        assert!(!check("Take once daily").blocks());
    }
}
