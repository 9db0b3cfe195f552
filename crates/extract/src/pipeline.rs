//! The extractor's pipeline: sentences → clauses → filters → schedule, clock time and
//! duration parsers → medicine/action recognisers → titles.
//!
//! Context carries across clauses the way a reader's does: "then four times daily" means
//! the medicine of the clause before; "Take one capsule three times a day" means the
//! medicine the note last named; "all twice daily for 14 days" gives one schedule to
//! every medicine of the list before it.

use std::collections::HashSet;

use hospital_steps::{
    ChecklistItem, ClockTime, ClockTimes, Duration, PlanStep, Schedule, Source, Steps, Title,
    MAX_STEPS,
};

use crate::clauses::{self, Join};
use crate::filters::{self, Flags};
use crate::labels::{directs_label, Label};
use crate::lexicon::{is_admin_verb, is_checklist_verb, is_count_unit, is_form, is_strength_unit};
use crate::tasks::{checklist_title, is_checklist, is_noun_use, shares_stem, vague_object};
use crate::titles::lower_first;
use crate::tokens::{Doc, Kind, View};
use crate::{clock, drugs, duration, frequency, sentences, titles};

/// Times of day that, alone before a colon, head the directions they time ("Morning:").
const HEADING_TIMES: &[&str] = &[
    "am", "bedtime", "evening", "evenings", "morning", "mornings", "night", "nights", "pm",
];

/// The most subjects one bare schedule ("then twice daily") applies to.
const MAX_SHARED: usize = 20;

/// What a plan step is about.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    Medicine {
        verb: &'static str,
        name: String,
        phrase: String,
        has_strength: bool,
    },
    Action {
        title: String,
    },
}

impl Subject {
    fn title(&self, strength: Option<&str>) -> String {
        match self {
            Subject::Medicine {
                verb,
                name,
                phrase,
                has_strength,
            } => match strength {
                Some(s) if *has_strength => format!("{verb} {name} {s}"),
                Some(s) => format!("{verb} {phrase} {s}"),
                None => format!("{verb} {phrase}"),
            },
            Subject::Action { title } => title.clone(),
        }
    }
}

/// Words that, with an administration verb, say nothing of what is given: such a clause
/// refers to the medicine named before ("Take one capsule twice daily").
#[rustfmt::skip]
const GENERIC: &[&str] = &[
    "&", "a", "abdomen", "across", "affected", "after", "again", "all", "also", "an", "and",
    "ankle", "ankles", "area", "areas", "arm", "armpit", "armpits", "arms", "around", "as", "at",
    "back", "bedtime", "before", "belly", "body", "both", "breakfast", "buttock", "buttocks", "by",
    "chest", "course", "decreasing", "dose", "doses", "each", "ear", "ears", "elbow", "elbows",
    "empty", "evening", "evenly", "every", "eye", "eyes", "face", "feet", "finger", "fingers",
    "first", "food", "foot", "full", "generously", "gently", "glass", "go", "going", "groin",
    "gums", "h", "hair", "hand", "hands", "hip", "hips", "hr", "immediately", "in", "increasing",
    "inflamed", "inner", "into", "it", "joint", "joints", "just", "knee", "knees", "layer",
    "least", "left", "leg", "legs", "lesion", "lesions", "lips", "lower", "meal", "meals",
    "medication", "medications", "medicine", "milk", "morning", "mouth", "nail", "nails", "neck",
    "new", "night", "nose", "nostril", "nostrils", "now", "of", "on", "one", "onto", "or", "oral",
    "orally", "outer", "over", "patch", "patches", "pill", "pills", "plaque", "plaques", "plus",
    "po", "rash", "reducing", "right", "rising", "same", "scalp", "shortly", "shoulder",
    "shoulders", "side", "sides", "skin", "sparingly", "spot", "spots", "stomach", "teeth", "the",
    "them", "then", "these", "thickly", "thigh", "thighs", "thin", "thinly", "this", "those", "to",
    "toe", "toes", "treatment", "under", "upper", "usual", "water", "whole", "with", "wound",
    "wrist", "wrists", "your",
];

#[derive(Default)]
struct Context {
    last_medicine: Option<Subject>,
    last_subject: Option<Subject>,
    /// Sentences since "Follow up with … in 1 week" made an item ("call to schedule" after
    /// it is the same task).
    since_follow_up: Option<u8>,
}

/// A plan step under construction, with whether its duration was stated.
struct Pending {
    step: PlanStep,
    duration_stated: bool,
}

impl Pending {
    /// A course told after the step ("Continue for 3 months", a list's heading, "…after
    /// 4 weeks"): it counts unless the step stated its own.
    fn finish(&mut self, duration: Option<Duration>) {
        if !self.duration_stated {
            self.settle(duration);
        }
    }

    /// The course the prescriber settled on ("let's do 7"), over any told before.
    fn settle(&mut self, duration: Option<Duration>) {
        self.step.duration = duration;
        self.duration_stated = true;
    }
}

pub(crate) fn extract(note: &str) -> Steps {
    let doc = Doc::new(note);
    let mut checklist = Vec::new();
    let mut plan: Vec<Pending> = Vec::new();
    let mut ctx = Context::default();
    // "Take ALL of these for 14 days:" gives its duration to the list that follows.
    let mut list_duration: Option<Duration> = None;
    for sentence in sentences::split(&doc) {
        ctx.since_follow_up = ctx.since_follow_up.map(|n| n.saturating_add(1));
        // A sentence of nothing but white space asks for nothing.
        let Some(source) = Source::fit(&note[sentence.bytes.clone()]) else {
            continue;
        };
        let before = plan.len();
        read_sentence(
            &doc,
            &sentence,
            &source,
            &mut ctx,
            &mut checklist,
            &mut plan,
        );
        if let Some(d) = list_duration {
            if plan.len() == before {
                list_duration = None;
            }
            for p in &mut plan[before..] {
                p.finish(Some(d));
            }
        }
        if plan.len() == before {
            if let Some(d) = list_heading_duration(&doc, &sentence, note) {
                list_duration = Some(d);
            }
        }
    }
    // A line copied forward (the same sentence twice) asks for its steps once.
    let mut seen_plan = HashSet::new();
    let mut seen_items = HashSet::new();
    checklist.retain(|c: &ChecklistItem| seen_items.insert((c.title.clone(), c.source.clone())));
    Steps {
        checklist,
        plan: plan
            .into_iter()
            .map(|p| p.step)
            .filter(|s| {
                seen_plan.insert((
                    s.title.clone(),
                    s.schedule.clone(),
                    s.duration,
                    s.source.clone(),
                ))
            })
            .collect(),
    }
}

struct Segment {
    start: usize,
    end: usize,
    mention: Option<drugs::Mention>,
    schedule: Option<Schedule>,
    duration: Option<duration::Hit>,
    flags: Flags,
}

#[allow(clippy::too_many_lines)]
fn read_sentence(
    doc: &Doc<'_>,
    sentence: &sentences::Sentence,
    source: &Source,
    ctx: &mut Context,
    checklist: &mut Vec<ChecklistItem>,
    plan: &mut Vec<Pending>,
) {
    let clauses = clauses::split(doc, sentence.toks.clone());
    // Where the sentence last says "repeat" (one scan, not one per clause).
    let last_repeat = sentence
        .toks
        .clone()
        .rev()
        .find(|&i| doc.text(i) == "repeat");
    // Steps already made from this sentence, to make each at most once.
    let mut seen: HashSet<((Title, Schedule), Option<Duration>)> = HashSet::new();
    let mut seen_any: HashSet<(Title, Schedule)> = HashSet::new();
    let mut prev_subjects: Vec<Subject> = Vec::new();
    // Whether the clause before named something a bare schedule can refer to: a medicine,
    // or an action it scheduled ("then twice daily"), or a heading before a colon.
    let mut prev_referable = false;
    let mut prev_steps: Vec<usize> = Vec::new();
    let mut prev_flags = Flags::default();
    let mut conditional = false;
    // "Amoxicillin 500 mg capsule: 1 cap po tid": the medicine the directions are about.
    let mut label: Option<Label> = None;
    let mut prev_schedule: Option<Schedule> = None;
    // A heading of a time of day ("Morning:") schedules the directions after it.
    let mut heading_cue = false;
    // The clauses that last gave a checklist item and a plan step.
    let mut item_clause: Option<usize> = None;
    let mut step_clause: Option<usize> = None;
    for (k, clause) in clauses.iter().enumerate() {
        let v = View::new(doc, clause.start, clause.end);
        // "1 cap po tidx10 days - clindamycin 300mg": the label written after the directions.
        if clause.join == Join::Dash && label.is_none() && k > 0 {
            if let Some(l) = Label::read(v).filter(|_| trailing_label_of(doc, &clauses[k - 1])) {
                let subject = l.subject("");
                for t in &prev_steps {
                    if let Some(p) = plan.get_mut(*t) {
                        if let Some(title) = Title::fit(&subject.title(None)) {
                            p.step.title = title;
                        }
                    }
                }
                ctx.last_medicine = Some(subject);
                continue;
            }
        }
        // "Morning: wash with benzoyl peroxide 5%, then apply clindamycin 1% gel": a time of
        // day as a heading gives the directions after it their time.
        if clauses.get(k + 1).is_some_and(|c| c.join == Join::Colon)
            && (v.start..v.end).all(|i| {
                HEADING_TIMES.contains(&v.w(i))
                    || matches!(v.w(i), "every" | "each" | "at" | "in" | "the" | "daily")
            })
            && (v.start..v.end).any(|i| HEADING_TIMES.contains(&v.w(i)))
        {
            heading_cue = true;
            continue;
        }
        // "Diclofenac 1% gel - apply 4 grams…" reads like a label too.
        if clauses
            .get(k + 1)
            .is_some_and(|c| matches!(c.join, Join::Colon | Join::Dash))
        {
            if let Some(l) = Label::read(v) {
                ctx.last_medicine = Some(l.subject(""));
                label = Some(l);
                prev_subjects.clear();
                prev_referable = false;
                continue;
            }
        }
        if clause.join == Join::Semicolon {
            conditional = false;
        }
        // "5-7 days; let's do 7": the choice after a range is the course.
        if let Some(days) = chosen_days(v) {
            // Told in a sentence of its own ("7-10 days is reasonable; Dr Patel wants 10."),
            // it is the course of the step just made.
            let targets: Vec<usize> = if prev_steps.is_empty() {
                plan.len().checked_sub(1).into_iter().collect()
            } else {
                prev_steps.clone()
            };
            for t in &targets {
                if let Some(p) = plan.get_mut(*t) {
                    p.settle(Duration::days(days).ok());
                }
            }
            continue;
        }
        let (cstart, mut narrative) = filters::content_start(v);
        // "GP: please check U&E in 2 weeks": what follows a member of the team as a heading
        // is theirs to do.
        if clause.join == Join::Colon && k > 0 {
            let h = &clauses[k - 1];
            let hv = View::new(doc, h.start, h.end);
            narrative |= (h.start..h.end).all(|i| {
                hv.kind(i) != Some(Kind::Word)
                    || filters::is_staff_word(hv.w(i))
                    || hv.w(i) == "for"
            }) && (h.start..h.end).any(|i| filters::is_staff_word(hv.w(i)));
        }
        let mut flags = filters::flags(v, cstart);
        flags.narrative |= narrative;
        if filters::opens_condition(v, v.start) || filters::opens_condition(v, cstart) {
            conditional = true;
        }
        flags.conditional |= conditional;
        // What the clause as a whole carries into each of its segments.
        // "increase every 2 weeks", "reduce gradually": a change to come, not a schedule.
        // … unless it names the new dose and how often to take it ("Increase Fostair to 2
        // puffs twice daily"); "decrease to 0.5 tablets every 14 days" is still a cadence.
        let new_regimen = (cstart..clause.end)
            .any(|i| drugs::strength_at(v, i).is_some() || clauses::starts_dose(v, i))
            && !(matches!(v.w(cstart), "reduce" | "decrease")
                && matches!(frequency::scan(v).explicit(), Some(frequency::Freq::EveryHours(h)) if h >= 48));
        let titration =
            matches!(v.w(cstart), "increase" | "reduce" | "decrease" | "titrate") && !new_regimen;
        let mut inherited = Flags {
            conditional: conditional || titration,
            narrative,
            ..Flags::default()
        };
        if clause.join == Join::Then {
            inherited.history = prev_flags.history;
            inherited.narrative |= prev_flags.narrative;
        }
        // "Audiology will repeat her hearing test and send the appointment": the same
        // subject does both.
        if clause.join == Join::And && cstart == v.start && !narrative {
            inherited.narrative |= prev_flags.narrative;
        }
        flags = flags.or(inherited);
        let head = v.w(cstart);
        let freq = frequency::scan(v);
        let times = clock::scan(v);
        let durs = duration::scan(v);
        let cv = View::new(doc, cstart, clause.end);
        // "Check oxygen saturation…", "record your glucose": what is measured, not taken.
        let mentions = if matches!(
            head,
            "check" | "measure" | "monitor" | "record" | "test" | "track" | "log"
        ) {
            Vec::new()
        } else {
            drugs::find(cv)
        };
        // "On metformin 1 g bd.", "Using salbutamol 6-8 times a day": what the patient is
        // on or does, told; not a change.
        // "T2DM on metformin 500 mg bd", "He is on ramipril": background, unless a change
        // puts the patient on it ("started on", "switched on").
        let on_background = mentions.iter().any(|m| {
            m.start > cstart
                && v.w(m.start - 1) == "on"
                && !matches!(
                    v.w(m.start.wrapping_sub(2)),
                    "started"
                        | "start"
                        | "continue"
                        | "continued"
                        | "keep"
                        | "put"
                        | "remain"
                        | "stay"
                        | "switched"
                        | "switch"
                        | "placed"
                        | "commenced"
                        | "commence"
                        | "restarted"
                        | "restart"
                        | "go"
                        | "going"
                        | "changed"
                        | "change"
                        | "moved"
                        | "move"
                        | "now"
                        | "then"
                        | "and"
                        | "take"
                        | "day"
                        | "today"
                        | "home"
                        | "discharged"
                        | "discharge"
                        | "tomorrow"
                        | "continues"
                        | "remains"
                        | "stays"
                )
        });
        if (v.w(cstart) == "on"
            && mentions.first().is_some_and(|m| m.start == cstart + 1)
            && !matches!(
                v.doc.text(cstart.wrapping_sub(1)),
                "home" | "discharged" | "today" | "continues" | "remains" | "stays"
            ))
            || on_background
            || crate::lexicon::has(HABITS, head)
        {
            flags.narrative = true;
            inherited.narrative = true;
        }

        if is_checklist(v, cstart, &freq, &times, k > 0) {
            // "Complete the questionnaire and return it", "photograph the lesion and bring
            // the photo": one task, told in two verbs.
            let chained = matches!(
                clause.join,
                Join::And | Join::Dash | Join::Comma | Join::Semicolon
            ) && item_clause == Some(k.wrapping_sub(1));
            // "Schedule your mammogram - call Imaging at 555-0199": how to do the task.
            let how = (chained
                || (clause.join == Join::Semicolon && item_clause == Some(k.wrapping_sub(1))))
                && matches!(head, "call" | "phone" | "ring" | "telephone" | "email")
                && (cstart..clause.end).any(|i| {
                    matches!(v.w(i), "book" | "schedule" | "arrange" | "to" | "at" | "on")
                });
            // "…test her glucose four times a day and send the readings…": part of the routine.
            let reports = clause.join == Join::And
                && step_clause == Some(k.wrapping_sub(1))
                && matches!(
                    head,
                    "send" | "upload" | "email" | "bring" | "show" | "post"
                );
            let delivers = matches!(
                head,
                "bring" | "return" | "send" | "upload" | "post" | "hand" | "email" | "show"
            );
            // "Follow up with Orthopedics in 1 week. Call 555-0134 to schedule."
            let books_follow_up = ctx.since_follow_up.is_some_and(|n| n <= 2)
                && matches!(head, "call" | "phone" | "ring" | "telephone")
                && (cstart..clause.end)
                    .any(|i| matches!(v.w(i), "schedule" | "book" | "appointment" | "arrange"));
            // "…and bring the photo": delivers what the task before made, not a new thing.
            let same_thing = delivers
                && (cstart + 1..clause.end).any(|i| {
                    let w = v.w(i);
                    w.len() >= 4
                        && clauses.get(k.wrapping_sub(1)).is_some_and(|p| {
                            (p.start..p.end).any(|j| shares_stem(v.doc.text(j), w))
                        })
                });
            // "He is to have a CT scan, which we will request": the team arranges it.
            let team_arranges = clauses.get(k + 1).is_some_and(|c| {
                let n = View::new(doc, c.start, c.end);
                matches!(n.w(c.start), "which" | "that")
                    && (c.start..c.end).any(|i| {
                        matches!(n.w(i), "we" | "i")
                            && matches!(n.w(i + 1), "will" | "have" | "'ve" | "’ve")
                            && matches!(
                                n.w(i + 2),
                                "request"
                                    | "arrange"
                                    | "book"
                                    | "send"
                                    | "organise"
                                    | "organize"
                                    | "refer"
                                    | "order"
                                    | "requested"
                                    | "arranged"
                                    | "booked"
                                    | "sent"
                                    | "referred"
                                    | "ordered"
                            )
                    })
            });
            let same_task = team_arranges
                || (chained && (vague_object(v, cstart) || same_thing))
                || how
                || reports
                || books_follow_up;
            // An order to do something once stands even when the words after it tell of the
            // past ("Text the link to anyone you have had sex with").
            let item_flags = if is_checklist_verb(head) {
                Flags {
                    history: false,
                    ..flags
                }
            } else {
                flags
            };
            if !item_flags.blocks() && !same_task {
                if head == "follow" {
                    ctx.since_follow_up = Some(0);
                }
                item_clause = Some(k);
                if let Some(title) = checklist_title(doc, v, cstart, sentence, clause)
                    .and_then(|t| Title::fit(&t))
                    .filter(|_| checklist.len() < MAX_STEPS)
                {
                    checklist.push(ChecklistItem {
                        title,
                        source: source.clone(),
                    });
                }
                if let Some(m) = mentions.last() {
                    ctx.last_medicine = Some(medicine(cv, m, head));
                }
            }
            prev_subjects.clear();
            prev_referable = false;
            prev_steps.clear();
            prev_flags = flags;
            continue;
        }

        // "Fluconazole 150 mg as a single dose", "Give ceftriaxone 1 g stat": done once, so
        // a checklist item, unless a schedule follows ("single dose, repeat in 2 weeks").
        let scheduled = freq.explicit().is_some() || !times.is_empty() || freq.cue_count() > 0;
        let repeated_later = last_repeat.is_some_and(|r| r >= clause.end);
        let once_at = once_only(v, cstart);
        if !scheduled && !repeated_later && !flags.blocks() && once_at.is_some() {
            // "Fluconazole 150 mg x1 on the last day of the Macrobid": the medicine named
            // before the single dose is the one taken.
            let first_before_once = match mentions.as_slice() {
                [m, rest @ ..] if rest.iter().all(|r| Some(r.start) > once_at) => Some(*m),
                _ => None,
            };
            let subject = match (mentions.as_slice(), first_before_once) {
                (_, Some(m)) => Some((medicine(cv, &m, head), first_strength(cv, Some(&m)))),
                ([], None) => label
                    .as_ref()
                    .filter(|_| directs_label(head))
                    .map(|l| (l.subject(head), first_strength(cv, None))),
                _ => None,
            };
            // A single dose is a course of one: a plan step, so its reminder comes.
            if let Some((subject, strength)) = subject {
                let title = Title::fit(&subject.title(strength.as_deref()));
                if let (Some(title), Ok(schedule)) = (title, Schedule::times_per_day(1)) {
                    if plan.len() < MAX_STEPS {
                        plan.push(Pending {
                            step: PlanStep {
                                title,
                                schedule,
                                duration: Duration::occurrences(1).ok(),
                                source: source.clone(),
                            },
                            duration_stated: true,
                        });
                    }
                }
                ctx.last_medicine = Some(subject);
            }
            prev_subjects.clear();
            prev_referable = false;
            prev_steps.clear();
            prev_flags = flags;
            continue;
        }

        // One segment per medicine of a list; the words before the first belong to it,
        // unless they are a step of their own ("increasing to 15 mg once weekly after 4
        // weeks, with folic acid 5 mg once weekly": a dose and a schedule, then another
        // medicine).
        let mut bounds: Vec<(usize, usize, Option<drugs::Mention>)> = Vec::new();
        let own_prefix = mentions.first().is_some_and(|m| {
            m.start > cstart
                && freq.hits.iter().any(|h| {
                    h.end <= m.start
                        && matches!(
                            h.freq,
                            frequency::Freq::PerDay(_) | frequency::Freq::EveryHours(_)
                        )
                })
                && (cstart..m.start).any(|i| {
                    drugs::strength_at(v, i).is_some_and(|e| e <= m.start)
                        || clauses::starts_dose(v, i)
                })
        });
        let mentions: Vec<drugs::Mention> = if own_prefix {
            bounds.push((v.start, mentions[0].start, None));
            mentions
        } else {
            mentions
        };
        if own_prefix && mentions.len() == 1 {
            bounds.push((mentions[0].start, v.end, Some(mentions[0])));
        } else if mentions.len() >= 2 {
            for (n, m) in mentions.iter().enumerate() {
                let s = if n == 0 && !own_prefix {
                    v.start
                } else {
                    m.start
                };
                let e = mentions.get(n + 1).map_or(v.end, |x| x.start);
                bounds.push((s, e, Some(*m)));
            }
        } else {
            bounds.push((v.start, v.end, mentions.first().copied()));
        }
        let prefix_flags = match mentions.first() {
            Some(m) if mentions.len() >= 2 => {
                filters::flags(View::new(doc, cstart, m.start), cstart)
            }
            _ => Flags::default(),
        };
        let mut segs: Vec<Segment> = bounds
            .into_iter()
            .enumerate()
            .map(|(n, (s, e, mention))| {
                let from = s.max(cstart);
                let mut f = filters::flags(View::new(doc, from, e), from).or(inherited);
                if n > 0 {
                    f = f.or(prefix_flags);
                }
                // Hits are in text order: a segment's are one slice, found by bisection
                // (a clause listing thousands of medicines stays linear).
                let fh = &freq.hits[freq.hits.partition_point(|h| h.at < s)
                    ..freq.hits.partition_point(|h| h.at < e)];
                let th = &times
                    [times.partition_point(|h| h.at < s)..times.partition_point(|h| h.at < e)];
                let dh =
                    &durs[durs.partition_point(|h| h.at < s)..durs.partition_point(|h| h.at < e)];
                let seg_freq = frequency::Found { hits: fh.to_vec() };
                let seg_times: Vec<ClockTime> = th.iter().map(|h| h.time).collect();
                let seg_durs = dh;
                Segment {
                    start: s,
                    end: e,
                    mention,
                    schedule: build_schedule(&seg_freq, &seg_times),
                    duration: duration::pick(seg_durs),
                    flags: f,
                }
            })
            .collect();
        // A list shares the schedule written after it ("X, Y and Z, all twice daily").
        for n in (0..segs.len()).rev() {
            if segs[n].schedule.is_none() {
                if let Some(next) = segs.get(n + 1) {
                    let (sch, dur, fl) = (next.schedule.clone(), next.duration, next.flags);
                    if sch.is_some() {
                        let seg = &mut segs[n];
                        seg.schedule = sch;
                        seg.duration = seg.duration.or(dur);
                        seg.flags = seg.flags.or(fl);
                    }
                }
            }
        }
        // A duration at the end covers the list ("…, all for 14 days").
        if segs.len() >= 2 {
            if let Some(tail) = segs.last().and_then(|s| s.duration) {
                for seg in &mut segs {
                    if seg.duration.is_none() {
                        seg.duration = Some(tail);
                    }
                }
            }
        }

        // "increasing to 15 mg once weekly after 4 weeks": the step before lasts until then,
        // and this one has no end of its own.
        let titration_delay = (clause.join == Join::Then
            && matches!(
                head,
                "increasing" | "reducing" | "decreasing" | "rising" | "going"
            ))
        .then(|| delay_days(v, cstart))
        .flatten();
        if let Some(days) = titration_delay {
            for t in &prev_steps {
                if let Some(p) = plan.get_mut(*t) {
                    p.finish(Duration::days(days).ok());
                }
            }
            for seg in &mut segs {
                seg.duration = None;
            }
        }
        let mut subjects = Vec::new();
        let mut steps_here = Vec::new();
        let any_schedule = segs.iter().any(|s| s.schedule.is_some());
        let repeat = freq
            .hits
            .iter()
            .any(|h| matches!(h.freq, frequency::Freq::Repeat(_)));
        for seg in &segs {
            let sv = View::new(doc, seg.start, seg.end);
            let strength = first_strength(sv, seg.mention.as_ref());
            // Inside a label's directions, only a known medicine is another medicine
            // ("swish and spit 10 mL" names none).
            let mention = seg
                .mention
                .filter(|m| label.is_none() || doc.is_medicine(m.start));
            let subjects_for_seg: Vec<Subject> = if let Some(m) = &mention {
                vec![medicine(cv, m, head)]
            } else if let Some(l) = label.as_ref().filter(|_| {
                directs_label(head)
                    && !(clause.join == Join::Then && prev_referable && !prev_subjects.is_empty())
            }) {
                vec![l.subject_for(
                    head,
                    &doc.slice(clause.start, clause.end - 1).to_ascii_lowercase(),
                )]
            } else {
                let first_consumed = first_consumed(&freq, &times, &durs, cstart, clause.end);
                let consumed = consumed_mask(v, &freq, &times, &durs);
                let generic = if first_consumed > cstart {
                    // "Continue daily weights first thing…": a lone verb before the schedule
                    // is generic only if what follows it is.
                    is_generic(v, cstart, first_consumed)
                        && (first_consumed > cstart + 1
                            || is_generic_unconsumed(v, first_consumed, &consumed))
                } else {
                    // The schedule comes first ("Daily weights at 08:00"): read what follows.
                    is_generic_unconsumed(v, cstart, &consumed)
                };
                let referable = clause.join == Join::Colon || prev_referable;
                if generic {
                    if k > 0 && !prev_subjects.is_empty() && referable {
                        prev_subjects.clone()
                    } else if let Some(m) = ctx.last_medicine.clone() {
                        // "Take with breakfast and lunch." after the step it times: the
                        // timing of a step already made, not another step.
                        let cue_only = freq.explicit().is_none()
                            && freq.weekday_interval().is_none()
                            && times.is_empty();
                        let made = plan
                            .iter()
                            .any(|p| p.step.title.as_str() == m.title(None).as_str());
                        if cue_only && made && !clauses::starts_dose(v, cstart + 1) {
                            Vec::new()
                        } else {
                            vec![m]
                        }
                    } else if let Some(s) = ctx.last_subject.clone() {
                        vec![s]
                    } else {
                        action_title(v, cstart, first_consumed, &consumed)
                            .map(|title| Subject::Action { title })
                            .into_iter()
                            .collect()
                    }
                } else {
                    // After "is to", "please", "should": whatever the verb, someone is told.
                    let imperative_head = crate::lexicon::is_imperative(head)
                        || is_admin_verb(head)
                        || (cstart > v.start
                            && matches!(
                                v.w(cstart.wrapping_sub(1)),
                                "to" | "please" | "should" | "must" | "will" | "shall"
                            ));
                    let cue_only = freq.explicit().is_none()
                        && freq.weekday_interval().is_none()
                        && times.is_empty();
                    // "Ward round 09:15", "Slept from midnight until 05:00", "SVD at 04:12":
                    // a clock time with nothing that repeats, in words that instruct nobody,
                    // is when something happened.
                    let time_only = freq.explicit().is_none()
                        && freq.weekday_interval().is_none()
                        && freq.cue_count() == 0
                        && !times.is_empty();
                    // "Peak flow morning and evening for the next week", "Scapular setting
                    // exercises every morning and evening": a routine, told.
                    let monitoring = (cstart..first_consumed.min(clause.end))
                        .any(|i| crate::lexicon::has(MONITORING, v.w(i)));
                    let routine = clause.join != Join::Colon
                        && ((monitoring && !durs.is_empty())
                            || (cstart..clause.end).any(|i| matches!(v.w(i), "every" | "each")));
                    // "send readings through the portal each Friday": part of the routine
                    // whose readings they are.
                    let reports_readings = matches!(
                        head,
                        "send" | "upload" | "email" | "submit" | "report" | "bring" | "post"
                    ) && (cstart..clause.end).any(|i| {
                        matches!(v.w(i), "readings" | "results" | "numbers" | "log" | "diary")
                    });
                    if (cue_only && !imperative_head && freq.cue_count() > 0 && !routine)
                        || reports_readings
                        || (time_only && !imperative_head)
                        || (!imperative_head && describes(v, cstart, first_consumed))
                    {
                        Vec::new()
                    } else {
                        action_title(v, cstart, first_consumed, &consumed)
                            .map(|title| Subject::Action {
                                title: with_referent(doc, sentence.toks.start, clause.start, title),
                            })
                            .into_iter()
                            .collect()
                    }
                }
            };
            // A taper's phase with no frequency of its own ("3 tabs x2d") keeps the one
            // before it, or is once a day.
            let in_phases = clause.join == Join::Then
                || clauses.get(k + 1).is_some_and(|c| c.join == Join::Then);
            // "take 2 tabs today, then…": a phase of one day.
            let today = in_phases
                && seg.schedule.is_none()
                && seg.duration.is_none()
                && (seg.start..seg.end).any(|i| matches!(v.w(i), "today" | "tonight" | "now"));
            let seg_duration = if today {
                Some(duration::Hit {
                    at: seg.start,
                    end: seg.start,
                    value: Duration::days(1).ok(),
                    bare: false,
                })
            } else {
                seg.duration
            };
            let dose_at_start = clauses::starts_dose(v, cstart.max(seg.start))
                || (is_admin_verb(head) && clauses::starts_dose(v, cstart + 1));
            let phase_schedule = (seg.schedule.is_none()
                && (in_phases || (label.is_some() && dose_at_start && !repeated_later))
                && seg_duration.is_some_and(|d| d.value.is_some())
                && (dose_at_start || seg.mention.is_some_and(|m| drugs::has_strength(v, &m)))
                && subjects_for_seg
                    .iter()
                    .any(|s| matches!(s, Subject::Medicine { .. })))
            .then(|| {
                prev_schedule
                    .clone()
                    .or_else(|| Schedule::times_per_day(1).ok())
            })
            .flatten();
            let cue_schedule = (heading_cue && seg.schedule.is_none() && !seg.flags.blocks())
                .then(|| Schedule::times_per_day(1).ok())
                .flatten();
            let schedule = seg
                .schedule
                .as_ref()
                .or(phase_schedule.as_ref())
                .or(cue_schedule.as_ref());
            // Phases of one medicine differ by their dose: "…, 4 tablets", "…, 3 tablets".
            let phase_dose = if in_phases && strength.is_none() && seg.mention.is_none() {
                dose_phrase(sv, cstart.max(seg.start))
            } else {
                None
            };
            if let Some(s) = schedule {
                prev_schedule = Some(s.clone());
            }
            // "Next appointment: 03/14 at 10:30": a clock time alone schedules an action only
            // when someone is told to do it.
            let seg_time_only = seg
                .schedule
                .as_ref()
                .is_some_and(|s| matches!(s, Schedule::FixedTimes { .. }))
                && freq.explicit().is_none()
                && freq.weekday_interval().is_none()
                && freq.cue_count() == 0;
            // "Phone call with the patient's wife 09:40": a noun, not an order.
            let told = (crate::lexicon::is_imperative(head) || is_admin_verb(head))
                && !is_noun_use(v, cstart);
            // "Daily weights: she should weigh herself every morning": the heading's
            // schedule is the line's own, told after the colon.
            let heading = clauses.get(k + 1).is_some_and(|c| {
                c.join == Join::Colon
                    && frequency::scan(View::new(doc, c.start, c.end))
                        .hits
                        .iter()
                        .any(|h| {
                            matches!(
                                h.freq,
                                frequency::Freq::PerDay(_)
                                    | frequency::Freq::EveryHours(_)
                                    | frequency::Freq::Cue(_)
                            )
                        })
            }) && !told
                && seg.mention.is_none();
            if !seg.flags.blocks() && !heading {
                if let Some(schedule) = schedule {
                    for subject in &subjects_for_seg {
                        if seg_time_only && !told && matches!(subject, Subject::Action { .. }) {
                            continue;
                        }
                        let mut title = subject.title(strength.as_deref());
                        if let (Some(d), Subject::Medicine { .. }) = (&phase_dose, subject) {
                            title = format!("{title}, {d}");
                        }
                        let Some(title) = Title::fit(&title) else {
                            continue;
                        };
                        let duration = match seg_duration {
                            Some(d) => d.value,
                            // "repeat after 7 days": two applications in all.
                            None if repeat => Duration::occurrences(2).ok(),
                            None => None,
                        };
                        // "Wear stockings every day, put them on in the morning": one step.
                        let key = (title.clone(), schedule.clone());
                        if seen.contains(&(key.clone(), duration))
                            || (duration.is_none()
                                && clause.join != Join::Then
                                && seen_any.contains(&key))
                            || plan.len() >= MAX_STEPS
                        {
                            continue;
                        }
                        seen_any.insert(key.clone());
                        seen.insert((key, duration));
                        steps_here.push(plan.len());
                        plan.push(Pending {
                            step: PlanStep {
                                title,
                                schedule: schedule.clone(),
                                duration,
                                source: source.clone(),
                            },
                            duration_stated: seg_duration.is_some(),
                        });
                    }
                }
            }
            if !seg.flags.blocks() || seg.schedule.is_none() {
                subjects.extend(subjects_for_seg);
            }
        }

        // "Continue for 3 months", "— 2 applications in total": a duration alone finishes
        // the step before it.
        if !any_schedule && mentions.is_empty() {
            if let Some(d) = duration::pick(&durs) {
                let first_consumed = first_consumed(&freq, &times, &durs, cstart, clause.end);
                let only_duration = is_generic(v, cstart, first_consumed)
                    || matches!(
                        head,
                        "continue"
                            | "all"
                            | "both"
                            | "each"
                            | "course"
                            | "treatment"
                            | "do"
                            | "keep"
                    );
                if only_duration && !flags.blocks() {
                    let targets: Vec<usize> = if k > 0 {
                        prev_steps.clone()
                    } else {
                        plan.len().checked_sub(1).into_iter().collect()
                    };
                    for t in targets {
                        if let Some(p) = plan.get_mut(t) {
                            p.finish(d.value);
                        }
                    }
                }
            }
        }

        if !mentions.is_empty() && !flags.blocks() {
            if let Some(m) = mentions.last() {
                ctx.last_medicine = Some(medicine(cv, m, head));
            }
        }
        if let Some(s) = subjects.last() {
            // Only what was scheduled (or a medicine) is what a later bare schedule means.
            if !flags.blocks() && (any_schedule || matches!(s, Subject::Medicine { .. })) {
                ctx.last_subject = Some(s.clone());
                if matches!(s, Subject::Medicine { .. }) {
                    ctx.last_medicine = Some(s.clone());
                }
            }
        }
        // A bare schedule refers to a list of at most a few medicines.
        subjects.truncate(MAX_SHARED);
        if !subjects.is_empty() {
            prev_referable = any_schedule
                || subjects
                    .iter()
                    .any(|s| matches!(s, Subject::Medicine { .. }));
            prev_subjects = subjects;
        }
        if !steps_here.is_empty() {
            prev_steps = steps_here;
            step_clause = Some(k);
        }
        prev_flags = flags;
    }
}

/// Whether directions name no medicine of their own and open with a dose ("1 cap po tid"),
/// so that a medicine written after a dash is theirs.
fn trailing_label_of(doc: &Doc<'_>, directions: &clauses::Clause) -> bool {
    let v = View::new(doc, directions.start, directions.end);
    drugs::find(v).is_empty() && clauses::starts_dose(v, v.start)
}

/// "…has been taught the dressing and is to change it every 3 days": an action whose
/// object is "it" or "them" names what the sentence named before ("Change the dressing").
fn with_referent(
    doc: &Doc<'_>,
    sentence_start: usize,
    clause_start: usize,
    title: String,
) -> String {
    let words: Vec<&str> = title.split(' ').collect();
    let Some(pos) = words.iter().position(|w| matches!(*w, "it" | "them")) else {
        return title;
    };
    if pos != 1 {
        return title;
    }
    let v = View::new(doc, sentence_start, clause_start);
    let Some(det) = (v.start..v.end).rev().find(|&i| {
        matches!(
            v.w(i),
            "the" | "your" | "his" | "her" | "their" | "a" | "an"
        )
    }) else {
        return title;
    };
    let mut end = det + 1;
    while end < v.end
        && end < det + 4
        && v.kind(end) == Some(Kind::Word)
        && !matches!(
            v.w(end),
            "and"
                | "or"
                | "to"
                | "with"
                | "for"
                | "in"
                | "on"
                | "at"
                | "clean"
                | "dry"
                | "covered"
                | "elevated"
                | "open"
                | "closed"
                | "moist"
                | "warm"
                | "cool"
                | "on."
                | "off"
        )
    {
        end += 1;
    }
    if end == det + 1 {
        return title;
    }
    let referent = doc.slice(det, end - 1);
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    out[pos] = referent.to_string();
    out.join(" ")
}

/// "after 4 weeks", "in 2 weeks' time": how long until a change, in days.
fn delay_days(v: View<'_, '_>, from: usize) -> Option<u32> {
    let i = (from..v.end).find(|&i| matches!(v.w(i), "after" | "in"))?;
    let n = v.qty(i + 1)?;
    match v.w(i + 2) {
        "day" | "days" => Some(n),
        "week" | "weeks" => n.checked_mul(7),
        "month" | "months" => n.checked_mul(30),
        _ => None,
    }
}

/// "let's do 7", "we'll go with 10 days", "I'll make it 14": the days a prescriber settles
/// on after giving a range.
fn chosen_days(v: View<'_, '_>) -> Option<u32> {
    let mut j = v.start;
    // "Dr. Patel wants 10", "she prefers 7": a prescriber's pick, a few words in.
    if let Some(w) = (v.start..v.end.min(v.start + 5))
        .find(|&i| matches!(v.w(i), "wants" | "prefers" | "chose" | "chooses"))
    {
        j = w + 1;
    } else {
        match v.w(j) {
            "let's" | "lets" | "let’s" | "we'll" | "we’ll" | "i'll" | "i’ll" => j += 1,
            "we" | "i" if v.w(j + 1) == "will" => j += 2,
            _ => return None,
        }
        if !matches!(
            v.w(j),
            "do" | "go" | "make" | "say" | "use" | "give" | "settle"
        ) {
            return None;
        }
        j += 1;
    }
    while matches!(v.w(j), "with" | "for" | "it" | "on") {
        j += 1;
    }
    let n = v.int(j)?;
    let days = match v.w(j + 1) {
        "week" | "weeks" => n.checked_mul(7)?,
        "month" | "months" => n.checked_mul(30)?,
        "" | "." | "," | "day" | "days" | "d" | "from" | "starting" | "then" => n,
        _ => return None,
    };
    (days > 0).then_some(days)
}

/// A heading that ends in a colon and gives a whole list its course: "take ALL of these for
/// 14 days:", "Both for 7 days:".
fn list_heading_duration(
    doc: &Doc<'_>,
    sentence: &sentences::Sentence,
    note: &str,
) -> Option<Duration> {
    if !note[sentence.bytes.clone()].trim_end().ends_with(':') {
        return None;
    }
    let v = View::new(doc, sentence.toks.start, sentence.toks.end);
    let names_list = (v.start..v.end).any(|i| {
        matches!(
            v.w(i),
            "all" | "these" | "both" | "each" | "following" | "them"
        )
    });
    if !names_list || frequency::scan(v).explicit().is_some() {
        return None;
    }
    duration::scan(v)
        .into_iter()
        .find(|h| !h.bare)
        .and_then(|h| h.value)
}

/// The dose a phase opens with, as written: "4 tablets", "1/2", "2.5 ml".
fn dose_phrase(v: View<'_, '_>, from: usize) -> Option<String> {
    let i = (from..v.end.min(from + 4)).find(|&i| clauses::starts_dose(v, i))?;
    let unit = v.w(i + 1);
    let with_unit = is_count_unit(unit)
        || is_form(unit)
        || is_strength_unit(unit)
        || matches!(
            crate::sig::meaning(unit),
            Some(crate::sig::Meaning::DoseUnit)
        );
    Some(
        v.doc
            .slice(i, if with_unit { i + 1 } else { i })
            .to_string(),
    )
}

fn medicine(cv: View<'_, '_>, m: &drugs::Mention, head: &str) -> Subject {
    let phrase = drugs::phrase(cv, m);
    let verb = titles::medicine_verb(head, &phrase.to_ascii_lowercase());
    let mut name = drugs::name(cv, m);
    let mut phrase = phrase;
    // A name opening the sentence is capitalised only for the sentence's sake.
    if is_sentence_start(cv, m.start) && name.chars().skip(1).all(|c| !c.is_uppercase()) {
        name = lower_first(&name);
        phrase = lower_first(&phrase);
    }
    Subject::Medicine {
        verb,
        name,
        phrase,
        has_strength: drugs::has_strength(cv, m),
    }
}

fn is_sentence_start(cv: View<'_, '_>, i: usize) -> bool {
    let doc = cv.doc;
    i == 0
        || doc.toks[i].newlines_before > 0
        || matches!(
            doc.text(i - 1),
            "." | ":" | ";" | "!" | "?" | "-" | "•" | "*" | ")"
        )
}

/// A strength in the segment that its medicine phrase does not already state
/// ("then 30 mg daily", "Increase lisinopril to 20 mg").
fn first_strength(sv: View<'_, '_>, mention: Option<&drugs::Mention>) -> Option<String> {
    if let Some(m) = mention {
        if drugs::has_strength(sv, m) {
            return None;
        }
    }
    let from = mention.map_or(sv.start, |m| m.end);
    let mut i = sv.find(from, |i| drugs::strength_at(sv, i).is_some())?;
    // "reduce his amlodipine from 10 mg to 5 mg": the new dose.
    if sv.w(i.wrapping_sub(1)) == "from" {
        let after = drugs::strength_at(sv, i)?;
        if sv.w(after) == "to" && drugs::strength_at(sv, after + 1).is_some() {
            i = after + 1;
        }
    }
    let end = drugs::strength_at(sv, i)?;
    Some(sv.doc.slice(i, end - 1).to_string())
}

fn first_consumed(
    freq: &frequency::Found,
    times: &[clock::Hit],
    durs: &[duration::Hit],
    from: usize,
    end: usize,
) -> usize {
    freq.hits
        .iter()
        .map(|h| h.at)
        .chain(times.iter().map(|h| h.at))
        .chain(durs.iter().map(|h| h.at))
        .filter(|&a| a >= from)
        .min()
        .unwrap_or(end)
}

/// Nothing but administration verbs, quantities and generic words before the schedule.
fn is_generic(v: View<'_, '_>, from: usize, to: usize) -> bool {
    // "Wash it gently once a day": a verb of its own leads, whatever lists its word is in.
    let lead = v.w(from);
    if crate::lexicon::is_imperative(lead) && !is_admin_verb(lead) && !matches!(lead, "go" | "come")
    {
        return false;
    }
    (from..to).all(|i| {
        let w = v.w(i);
        match v.kind(i) {
            Some(Kind::Punct | Kind::Number) | None => true,
            Some(Kind::Word) => {
                crate::lexicon::has(GENERIC, w)
                    || is_admin_verb(w)
                    || is_form(w)
                    || is_strength_unit(w)
                    || is_count_unit(w)
                    || crate::lexicon::number_word(w).is_some()
            }
        }
    })
}

fn action_title(
    v: View<'_, '_>,
    from: usize,
    first_consumed: usize,
    consumed: &[bool],
) -> Option<String> {
    // "please go in the morning": a verb of going alone names nothing to remind of.
    action_title_words(v, from, first_consumed, consumed).filter(|t| {
        !matches!(
            t.to_ascii_lowercase().as_str(),
            "go" | "come"
                | "attend"
                | "return"
                | "call"
                | "come back"
                | "go back"
                | "start"
                | "continue"
                | "do"
                | "repeat"
        )
    })
}

fn action_title_words(
    v: View<'_, '_>,
    from: usize,
    first_consumed: usize,
    consumed: &[bool],
) -> Option<String> {
    // "Continue daily weights first thing in the morning": a lone verb before the schedule
    // takes its object from after it.
    let lone_verb = first_consumed == from + 1 && v.kind(from) == Some(Kind::Word);
    if !lone_verb {
        if let Some(t) = titles::from_tokens(v, from, first_consumed) {
            return Some(t);
        }
    }
    // The schedule came first ("Every morning, check your weight"): use the words after it.
    let is_free_word = |i: usize| !consumed[i - v.start] && v.kind(i) == Some(Kind::Word);
    let a = (first_consumed..v.end).find(|&i| is_free_word(i));
    let Some(a) = a else {
        return titles::from_tokens(v, from, first_consumed);
    };
    let b = (a..v.end).rev().find(|&i| is_free_word(i))?;
    // Only little words after the schedule ("at"): the verb is the title.
    let Some(object) = titles::from_tokens(v, a, b + 1) else {
        return titles::from_tokens(v, from, first_consumed);
    };
    if lone_verb {
        let verb = titles::from_tokens(v, from, from + 1)?;
        return Some(format!("{verb} {}", lower_first(&object)));
    }
    Some(object)
}

/// Which tokens of the clause the schedule, clock-time and duration parsers took.
fn consumed_mask(
    v: View<'_, '_>,
    freq: &frequency::Found,
    times: &[clock::Hit],
    durs: &[duration::Hit],
) -> Vec<bool> {
    let mut mask = vec![false; v.end - v.start];
    let spans = freq
        .hits
        .iter()
        .map(|h| (h.at, h.end))
        .chain(times.iter().map(|h| (h.at, h.end)))
        .chain(durs.iter().map(|h| (h.at, h.end)));
    for (a, b) in spans {
        for i in a.max(v.start)..b.min(v.end) {
            mask[i - v.start] = true;
        }
    }
    mask
}

/// Symptoms and habits: "Pain occurs three times a day", "Smoker 20/day" describe, they
/// do not instruct.
#[rustfmt::skip]
const DESCRIBED: &[&str] = &[
    "alcohol", "attacks", "bleeding", "bowels", "cough", "coughing", "diarrhea", "diarrhoea",
    "drinker", "drinking", "episodes", "fever", "fits", "headache", "headaches", "nausea", "pain",
    "seizures", "smoker", "smoking", "stools", "symptoms", "urine", "vomiting", "wheeze",
    "wheezing",
];
/// What a heading with a clock time names ("Ward round 09:15", "MDT 14:00"): an event of
/// the team's day, not something the patient is asked to do.
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "clinic", "handover", "huddle", "mdt", "meeting", "round", "rounds", "seen", "teaching",
    "ward",
];
/// What a patient measures or does as a routine: with a duration, a noun phrase of these
/// and times of day is an instruction ("Peak flow morning and evening for the next week").
#[rustfmt::skip]
const MONITORING: &[&str] = &[
    "bp", "exercise", "exercises", "flow", "glucose", "obs", "physio", "pressure", "readings",
    "stretches", "sugar", "sugars", "temperature", "walk", "walking", "weight", "weights",
];

/// A habit told at the head of a clause ("Walks 30 min three times a week", "Using
/// salbutamol 6-8 times a day").
#[rustfmt::skip]
const HABITS: &[&str] = &[
    "attends", "cycles", "does", "exercises", "gardens", "goes", "jogs", "naps", "plays", "runs",
    "sleeps", "swims", "uses", "using", "vapes", "visits", "walks", "wears", "works",
];
const DESCRIBING_VERBS: &[&str] = &[
    "agreed",
    "are",
    "became",
    "becomes",
    "comes",
    "decided",
    "discussed",
    "drinks",
    "eats",
    "explained",
    "feels",
    "gets",
    "goes",
    "had",
    "happen",
    "happens",
    "has",
    "have",
    "is",
    "lasts",
    "occur",
    "occurs",
    "remains",
    "seems",
    "smokes",
    "started",
    "takes",
    "uses",
    "wakes",
    "was",
    "were",
    "will",
    "would",
];

fn describes(v: View<'_, '_>, from: usize, to: usize) -> bool {
    let first = if v.w(from) == "still" { from + 1 } else { from };
    crate::lexicon::has(DESCRIBED, v.w(first))
        || crate::lexicon::has(HABITS, v.w(first))
        || crate::lexicon::has(EVENTS, v.w(first))
        || (from..to).any(|i| DESCRIBING_VERBS.contains(&v.w(i)))
}

/// Like [`is_generic`], over the words no parser took.
fn is_generic_unconsumed(v: View<'_, '_>, from: usize, consumed: &[bool]) -> bool {
    (from..v.end).all(|i| consumed[i - v.start] || is_generic(v, i, i + 1))
}

fn build_schedule(freq: &frequency::Found, times: &[ClockTime]) -> Option<Schedule> {
    use frequency::Freq;
    let explicit = freq.explicit();
    let from_freq = |f: Freq| match f {
        Freq::PerDay(n) => Schedule::times_per_day(n).ok(),
        Freq::EveryHours(h) | Freq::Repeat(h) => Schedule::every_hours(h).ok(),
        Freq::Cue(_) | Freq::Weekdays(_) => None,
    };
    // "in the morning, at noon and at bedtime": noon is a time of day among others.
    let noon = ClockTime::new(12, 0).ok();
    if !times.is_empty()
        && explicit.is_none()
        && freq.cue_count() >= 2
        && times.iter().all(|t| Some(*t) == noon)
    {
        return Schedule::times_per_day(freq.cue_count()).ok();
    }
    if !times.is_empty() {
        let n = times.len() as u32;
        let keep_freq = match explicit {
            Some(Freq::PerDay(c)) => c > n,
            Some(Freq::EveryHours(h) | Freq::Repeat(h)) => {
                h > 24 || (h > 0 && h < 24 && 24 / h > n)
            }
            _ => false,
        };
        if keep_freq {
            return explicit.and_then(from_freq);
        }
        if explicit.is_none() {
            if let Some(h) = freq.weekday_interval() {
                return Schedule::every_hours(h).ok();
            }
        }
        // "at 08:00 … and again at 08:00": a time written twice is taken once.
        return ClockTimes::distinct(times.to_vec())
            .ok()
            .map(|times| Schedule::FixedTimes { times });
    }
    if let Some(f) = explicit {
        return from_freq(f);
    }
    if let Some(h) = freq.weekday_interval() {
        return Schedule::every_hours(h).ok();
    }
    match freq.cue_count() {
        0 => None,
        n => Schedule::times_per_day(n).ok(),
    }
}

/// "single dose", "stat", "once only", "one-off": a medicine taken once.
fn once_only(v: View<'_, '_>, from: usize) -> Option<usize> {
    (from..v.end).find(|&i| match v.w(i) {
        "stat" | "statim" => true,
        // "give one more dose", "another dose tomorrow", "a further dose".
        "dose" => matches!(
            v.w(i.wrapping_sub(1)),
            "more" | "another" | "further" | "one"
        ),
        "single" => matches!(v.w(i + 1), "dose" | "oral" | "tablet" | "injection"),
        // "PO x1": one dose.
        "x" => v.w(i + 1) == "1" && !matches!(v.w(i + 2), "day" | "days" | "week" | "weeks" | "d"),
        // "once only", "once-off", "drink once."
        "once" => {
            matches!(v.w(i + 1), "only" | "off" | "" | "." | "," | ";")
                || (i > from
                    && (matches!(
                        crate::sig::meaning(v.w(i.wrapping_sub(1))),
                        Some(crate::sig::Meaning::Route)
                    ) || matches!(
                        v.w(i.wrapping_sub(1)),
                        "orally" | "drink" | "take" | "swallow"
                    )))
        }
        "one" => v.w(i + 1) == "-" && v.w(i + 2) == "off" || v.w(i + 1) == "off",
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        for list in [
            GENERIC,
            DESCRIBED,
            HABITS,
            MONITORING,
            EVENTS,
            crate::tasks::PROVIDERS,
        ] {
            crate::lexicon::assert_sorted_unique(list);
        }
    }
}
