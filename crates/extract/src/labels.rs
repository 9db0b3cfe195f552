//! Prescription labels: "Medicine strength form (Brand): directions". The words before
//! the colon (or dash) name the medicine; the directions after it are about that medicine,
//! whatever their unit or verb ("1 cap po qd", "2 gtt OD bid", "inject 22 units subcut").

use crate::drugs;
use crate::lexicon::{is_admin_verb, is_checklist_verb, is_count_form, is_form, is_strength_unit};
use crate::pipeline::Subject;
use crate::titles::{self, lower_first};
use crate::tokens::{Kind, View};
use crate::{clock, duration, frequency};

/// The medicine a prescription label names before its directions: "Metoprolol succinate
/// ER 50 mg tablet", "Advair Diskus 250/50 mcg inhalation powder", "Olive oil ear drops",
/// "Symbicort (budesonide/formoterol) 160/4.5 mcg inhaler".
pub(crate) struct Label {
    /// The name as written, up to its strength, form, route or a bracket.
    name: String,
    /// The label without its pill count: "metoprolol succinate ER 50 mg".
    phrase: String,
    strength: Option<String>,
    /// The whole label, lowercase, for the verb its form calls for.
    words: String,
}

/// Words that end a label's name: what follows is its form or release.
const LABEL_NAME_ENDS: &[&str] = &[
    "chewable",
    "cleanser",
    "delayed",
    "delayed-release",
    "disintegrating",
    "dr",
    "extended",
    "hfa",
    "inhalation",
    "modified",
    "modified-release",
    "nebuliser",
    "nebulizer",
    "ophthalmic",
    "orally",
    "otic",
    "prefilled",
    "release",
    "skin",
    "sublingual",
    "transdermal",
    "vaginal",
    "vial",
    "xr",
];

impl Label {
    pub(crate) fn read(v: View<'_, '_>) -> Option<Label> {
        let len = v.end - v.start;
        if !(1..=24).contains(&len)
            || is_admin_verb(v.w(v.start))
            || is_checklist_verb(v.w(v.start))
            || crate::lexicon::is_imperative(v.w(v.start))
            || !frequency::scan(v).hits.is_empty()
            || !clock::scan(v).is_empty()
            || !duration::scan(v).is_empty()
        {
            return None;
        }
        let strength_at = (v.start..v.end).find(|&i| drugs::strength_at(v, i).is_some());
        let names_medicine = strength_at.is_some()
            || !drugs::find(v).is_empty()
            || (v.start..v.end).any(|i| is_form(v.w(i)));
        if !names_medicine {
            return None;
        }
        // The name: words (and glued "-", "/" joining them) up to a number, a form, a
        // release word or a bracket.
        let mut end = v.start;
        let mut words = 0;
        while end < v.end && words < 6 {
            let w = v.w(end);
            let joins = matches!(w, "-" | "/") && v.glued(end) && v.glued(end + 1) && end > v.start;
            let word = v.kind(end) == Some(Kind::Word)
                && !is_form(w)
                && !LABEL_NAME_ENDS.contains(&w)
                && !is_strength_unit(w);
            let glued_part =
                end > v.start && v.glued(end) && matches!(v.w(end.wrapping_sub(1)), "-" | "/");
            if joins || word || glued_part {
                if word && !v.glued(end) {
                    words += 1;
                }
                end += 1;
            } else {
                break;
            }
        }
        while end > v.start && matches!(v.w(end.wrapping_sub(1)), "-" | "/") {
            end -= 1;
        }
        if end == v.start {
            return None;
        }
        let mut name = v.doc.slice(v.start, end - 1).to_string();
        // The label as a title names it: "Permethrin 5% cream", not its pill count.
        let mut last = v.end;
        while last > end
            && (is_count_form(v.w(last.wrapping_sub(1)))
                || v.kind(last - 1) == Some(Kind::Punct)
                    && v.w(last.wrapping_sub(1)) != ")"
                    && v.w(last.wrapping_sub(1)) != "%")
        {
            last -= 1;
        }
        let mut phrase = v.doc.slice(v.start, last - 1).to_string();
        if name.chars().skip(1).all(|c| !c.is_uppercase()) {
            name = lower_first(&name);
            phrase = lower_first(&phrase);
        }
        let strength = strength_at
            .and_then(|i| Some((i, drugs::strength_at(v, i)?)))
            .map(|(i, e)| v.doc.slice(i, e - 1).to_string());
        Some(Label {
            name,
            phrase,
            strength,
            words: v.doc.slice(v.start, v.end - 1).to_ascii_lowercase(),
        })
    }

    pub(crate) fn subject(&self, head: &str) -> Subject {
        self.subject_for(head, "")
    }

    /// The subject with the verb the directions' route calls for too ("1 mL IM q month":
    /// inject).
    pub(crate) fn subject_for(&self, head: &str, directions: &str) -> Subject {
        let verb = if directions.is_empty() {
            titles::medicine_verb(head, &self.words)
        } else {
            titles::medicine_verb(head, &format!("{} {directions}", self.words))
        };
        Subject::Medicine {
            verb,
            name: self.name.clone(),
            phrase: self.phrase.clone(),
            has_strength: self.strength.is_some(),
        }
    }
}

/// Whether directions after a label, opening with `head`, are about the label's medicine:
/// "1 tab po bid", "apply…", "inject…", "2 gtt OU…" are; "rinse mouth after use", "remove
/// the buildup weekly" are an action of their own.
pub(crate) fn directs_label(head: &str) -> bool {
    is_admin_verb(head) || !crate::lexicon::is_imperative(head) && !is_checklist_verb(head)
}
