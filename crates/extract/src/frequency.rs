//! How often: frequencies in words, digits and clinical shorthand.
//!
//! "twice daily", "3x daily", "four times a day", "bd", "t.d.s.", "q6h", "every 8 hours",
//! "every other day" (48 h), "weekly" (168 h), "every Monday and Thursday" (84 h), and the
//! times of day that imply a count when nothing else does ("mane", "nocte", "every
//! morning", "morning and evening", "with meals"). Every pattern looks at most a few
//! tokens ahead, so a scan is linear in the clause.

// Token scanners read best in the notation of their patterns: `v` the view, `i`/`j`/`k`
// positions, `w` the word, `n` a number.
#![allow(clippy::many_single_char_names)]

use crate::lexicon::undotted;
use crate::sig;
use crate::tokens::{Kind, View};

/// One frequency expression and the tokens it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freq {
    PerDay(u32),
    EveryHours(u32),
    /// "repeat after 7 days": one more application after so many hours.
    Repeat(u32),
    /// Times of day (bit set: morning, midday, evening, night).
    Cue(u8),
    /// Days of the week (bit set).
    Weekdays(u8),
}

impl Freq {
    /// A count or interval of zero: said, but not a schedule.
    fn is_zero(self) -> bool {
        matches!(
            self,
            Freq::PerDay(0) | Freq::EveryHours(0) | Freq::Repeat(0)
        )
    }
}

pub(crate) const MORNING: u8 = 1;
pub(crate) const MIDDAY: u8 = 2;
pub(crate) const EVENING: u8 = 4;
pub(crate) const NIGHT: u8 = 8;
pub(crate) const MEALS: u8 = MORNING | MIDDAY | EVENING;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub at: usize,
    pub end: usize,
    pub freq: Freq,
}

/// What a clause says about frequency, all hits combined.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    pub hits: Vec<Hit>,
}

impl Found {
    /// The first explicit frequency (a count or an interval).
    pub fn explicit(&self) -> Option<Freq> {
        self.hits
            .iter()
            .map(|h| h.freq)
            .find(|f| matches!(f, Freq::PerDay(_) | Freq::EveryHours(_) | Freq::Repeat(_)))
    }

    /// Doses a day implied by the times of day named, if any.
    pub fn cue_count(&self) -> u32 {
        let bits = self.hits.iter().fold(0u8, |acc, h| match h.freq {
            Freq::Cue(b) => acc | b,
            _ => acc,
        });
        bits.count_ones()
    }

    /// Interval implied by named weekdays ("every Monday and Thursday": 84 h).
    pub fn weekday_interval(&self) -> Option<u32> {
        let bits = self.hits.iter().fold(0u8, |acc, h| match h.freq {
            Freq::Weekdays(b) => acc | b,
            _ => acc,
        });
        let n = bits.count_ones();
        (n > 0).then(|| (168 + n / 2) / n)
    }
}

pub(crate) fn scan(v: View<'_, '_>) -> Found {
    let mut found = Found::default();
    let mut i = v.start;
    while i < v.end {
        if let Some((freq, end)) = at(v, i) {
            // "500 x weekly" rounds to every 0 hours: no frequency anyone can keep.
            if !freq.is_zero() {
                found.hits.push(Hit { at: i, end, freq });
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

fn per_period(count: u32, v: View<'_, '_>, j: usize) -> Option<(Freq, usize)> {
    let mut j = j;
    if v.w(j) == "-" {
        j += 1;
    }
    if v.is_any(j, &["a", "an", "per", "each", "every", "/", "in", "a-"]) {
        j += 1;
    }
    // "twice in 24 hours", "3 times per 24h"
    if v.w(j) == "24" && v.is_any(j + 1, &["hours", "hrs", "h", "hr"]) {
        return Some((Freq::PerDay(count), j + 2));
    }
    let f = match v.w(j) {
        "day" | "daily" | "d" | "night" | "nightly" | "days" | "dialy" | "daliy" => {
            Freq::PerDay(count)
        }
        "week" | "weekly" | "wk" | "wks" | "weeks" => Freq::EveryHours((168 + count / 2) / count),
        "fortnight" | "fortnightly" => Freq::EveryHours((336 + count / 2) / count),
        "month" | "monthly" | "months" => Freq::EveryHours((720 + count / 2) / count),
        _ => return None,
    };
    Some((f, j + 1))
}

fn weekday(w: &str) -> Option<u8> {
    let w = w.strip_suffix('s').unwrap_or(w);
    Some(match w {
        "monday" | "mon" => 1,
        "tuesday" | "tue" | "tues" => 2,
        "wednesday" | "wed" => 4,
        "thursday" | "thu" | "thur" | "thurs" => 8,
        "friday" | "fri" => 16,
        "saturday" | "sat" => 32,
        "sunday" | "sun" => 64,
        _ => return None,
    })
}

fn cue(w: &str) -> Option<u8> {
    Some(match w {
        "morning" | "mornings" | "breakfast" | "am" | "a.m" | "waking" => MORNING,
        "lunch" | "lunchtime" | "midday" | "noon" => MIDDAY,
        "evening" | "evenings" | "dinner" | "supper" | "tea" | "teatime" | "pm" | "p.m" => EVENING,
        "night" | "nights" | "bedtime" | "bed" => NIGHT,
        "meals" | "mealtimes" | "meal" => MEALS,
        _ => return None,
    })
}

/// Hours in "q6h", "q4-6h", "q12hr", "q2d".
fn q_hours(w: &str) -> Option<(u32, Option<&str>)> {
    let rest = w.strip_prefix('q')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let n: u32 = rest[..digits].parse().ok()?;
    let unit = &rest[digits..];
    match unit {
        "h" | "hr" | "hrs" | "hrly" | "hourly" | "h°" => Some((n, None)),
        "d" => Some((n * 24, None)),
        // "q2wk", "q2w", "q3mo"
        "wk" | "wks" | "w" => Some((n.saturating_mul(168), None)),
        "mo" | "mos" | "m" => Some((n.saturating_mul(720), None)),
        "" => Some((n, Some(""))),
        _ => None,
    }
}

#[allow(clippy::too_many_lines)]
fn at(v: View<'_, '_>, i: usize) -> Option<(Freq, usize)> {
    let w = v.w(i);
    let u = undotted(w);
    // Single-token shorthand.
    let single = match u.as_ref() {
        // English words; the abbreviations are in the sig table.
        "weekly" => Some(Freq::EveryHours(168)),
        // Common slips of the keyboard.
        "dialy" | "daliy" | "dailiy" | "dailly" | "daly" => Some(Freq::PerDay(1)),
        "fortnightly" => Some(Freq::EveryHours(336)),
        "monthly" => Some(Freq::EveryHours(720)),
        "hourly" => Some(Freq::EveryHours(1)),
        "nightly" => Some(Freq::Cue(NIGHT)),
        // "am"/"pm" are times of day only where introduced (below).
        "am" | "pm" => None,
        // "1 gtt OD bid": before another frequency, OD is the right eye.
        "od" if names_frequency(v, i + 1) => None,
        other => match sig::meaning(other) {
            Some(sig::Meaning::Frequency(f)) => Some(f),
            _ => None,
        },
    };
    // "a weekly blister pack", "the daily dose": an adjective, not a schedule.
    if single.is_some()
        && matches!(
            v.w(i.wrapping_sub(1)),
            "a" | "an" | "the" | "your" | "his" | "her" | "their" | "total"
        )
        && matches!(
            u.as_ref(),
            "weekly" | "daily" | "monthly" | "nightly" | "fortnightly"
        )
    {
        return None;
    }
    if let Some(f) = single {
        // "once daily" etc. are taken whole where the count stands; a lone "daily" is 1.
        return Some((f, i + 1));
    }
    // "40mg ON" (omni nocte): only in capitals after a dose, where "on" cannot be the word.
    if w == "on"
        && v.doc.orig(i) == "ON"
        && (v.kind(i.wrapping_sub(1)) == Some(Kind::Number)
            || crate::lexicon::is_strength_unit(v.w(i.wrapping_sub(1))))
    {
        return Some((Freq::Cue(NIGHT), i + 1));
    }
    // q6h, q4-6h, q 6 h
    if let Some((n, open)) = q_hours(&u) {
        let mut end = i + 1;
        if open.is_some() {
            // "q4" "-" "6" "h" or "q4" "h"
            // A range ("q4-6h") is read as its longer interval: the fewer doses.
            let mut n = n;
            if v.w(end) == "-" {
                if let Some(m) = v.int(end + 1) {
                    n = n.max(m);
                    end += 2;
                }
            }
            if !v.is_any(end, &["h", "hr", "hrs", "hrly", "hourly", "hours"]) {
                return None;
            }
            end += 1;
            return (n > 0).then_some((Freq::EveryHours(n), end));
        }
        return (n > 0).then_some((Freq::EveryHours(n), end));
    }
    if w == "q" {
        // "q 6 h", "q 4-6 hours"
        if let Some(n) = v.int(i + 1) {
            let (n, j) = if v.w(i + 2) == "-" && v.int(i + 3).is_some() {
                (n.max(v.int(i + 3).unwrap_or(n)), i + 4)
            } else {
                (n, i + 2)
            };
            if v.is_any(j, &["h", "hr", "hrs", "hrly", "hourly", "hours"]) && n > 0 {
                return Some((Freq::EveryHours(n), j + 1));
            }
        }
        // "q hs", "q am", "q d", "q wk"
        if let Some(f) = sig::spaced_q(&undotted(v.w(i + 1))) {
            return Some((f, i + 2));
        }
    }
    // Counted: "once daily", "twice a day", "3 times a day", "3x daily", "three times weekly".
    let counted = match w {
        "once" => Some((1, i + 1)),
        "twice" => Some((2, i + 1)),
        "thrice" => Some((3, i + 1)),
        _ => v
            .qty(i)
            .filter(|_| !matches!(w, "a" | "an" | "couple"))
            .and_then(|n| {
                let mut j = i + 1;
                if v.w(j) == "-" {
                    j += 1;
                }
                v.is_any(j, &["times", "time", "x", "×"])
                    .then_some((n, j + 1))
            }),
    };
    if let Some((n, j)) = counted {
        if n == 0 {
            return None;
        }
        if let Some(hit) = per_period(n, v, j) {
            return Some(hit);
        }
        // "twice, morning and evening" counts through the cues; a bare "once" is no schedule.
        return None;
    }
    // "every 8 hours", "every other day", "every morning", "each Monday".
    if matches!(w, "every" | "each") {
        let mut j = i + 1;
        let mut mult = 1;
        match v.w(j) {
            "other" | "second" | "alternate" | "2nd" => {
                mult = 2;
                j += 1;
            }
            "third" | "3rd" => {
                mult = 3;
                j += 1;
            }
            "fourth" | "4th" => {
                mult = 4;
                j += 1;
            }
            _ => {}
        }
        // "every 3rd day"
        if let Some(n) = v.int(j) {
            if v.glued(j + 1) && v.is_any(j + 1, &["rd", "nd", "th", "st"]) {
                mult = n;
                j += 2;
            }
        }
        let (n, k) = match v.qty(j) {
            Some(n) if !matches!(v.w(j), "a" | "an") && mult == 1 => {
                let mut k = j + 1;
                let mut n = n;
                // "every 4-6 hours": the longer interval, as for "q4-6h".
                if v.is_any(k, &["-", "to", "or"]) {
                    if let Some(m) = v.qty(k + 1) {
                        n = n.max(m);
                        k += 2;
                    }
                }
                (n, k)
            }
            _ => (mult, j),
        };
        if n == 0 {
            return None;
        }
        let unit = v.w(k);
        let f = match unit {
            "hour" | "hours" | "hr" | "hrs" | "h" => Freq::EveryHours(n),
            "day" | "days" if n == 1 => Freq::PerDay(1),
            "day" | "days" => Freq::EveryHours(24 * n),
            // "every other night", "every second morning": one day in n.
            "night" | "nights" | "morning" | "mornings" | "evening" | "evenings" if n > 1 => {
                Freq::EveryHours(24 * n)
            }
            "week" | "weeks" | "wk" | "wks" => Freq::EveryHours(168 * n),
            "fortnight" => Freq::EveryHours(336 * n),
            "month" | "months" => Freq::EveryHours(720 * n),
            _ if n == 1 => {
                if let Some(c) = cue(unit) {
                    Freq::Cue(c)
                } else if let Some(d) = weekday(unit) {
                    return Some(weekdays(v, k, d));
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        return Some((f, k + 1));
    }
    // "0.1 mg/day": the rate a patch gives, not how often it is put on.
    if w == "/" && v.glued(i) && crate::lexicon::is_strength_unit(v.w(i.wrapping_sub(1))) {
        return None;
    }
    if w == "per" || w == "a" || w == "/" {
        // "several times a day" names no count: no schedule.
        if v.w(i + 1) == "day" && v.w(i.wrapping_sub(1)) != "times" {
            return Some((Freq::PerDay(1), i + 2));
        }
        return None;
    }
    // "repeat after 7 days", "repeat in one week": a second application, an interval.
    if w == "repeat" && v.is_any(i + 1, &["after", "in"]) {
        let mut j = i + 2;
        if v.is_any(j, &["another", "a", "one"]) && v.is_any(j + 1, &["week", "fortnight", "month"])
        {
            j += 1;
            let h = match v.w(j) {
                "week" => 168,
                "fortnight" => 336,
                _ => 720,
            };
            return Some((Freq::Repeat(h), j + 1));
        }
        let n = v.qty(j)?;
        let h = match v.w(j + 1) {
            "day" | "days" => 24,
            "week" | "weeks" => 168,
            "hours" | "hour" | "hrs" => 1,
            _ => return None,
        };
        return (n > 0).then(|| (Freq::Repeat(n.saturating_mul(h)), j + 2));
    }
    if w == "alternate" && v.is_any(i + 1, &["day", "days", "nights"]) {
        return Some((Freq::EveryHours(48), i + 2));
    }
    // "7 days apart", "12 hours apart"
    if let Some(n) = v.qty(i).filter(|&n| n > 0 && !matches!(w, "a" | "an")) {
        let unit = v.w(i + 1);
        if v.w(i + 2) == "apart" {
            let h = match unit {
                "hours" | "hrs" | "hour" => Some(n),
                "days" | "day" => Some(n.saturating_mul(24)),
                "weeks" | "week" => Some(n.saturating_mul(168)),
                _ => None,
            };
            if let Some(h) = h {
                return Some((Freq::EveryHours(h), i + 3));
            }
        }
    }
    // "4-hourly", "4 hourly", "6 hrly"; "12-weekly", "3-monthly"
    if let Some(n) = v.int(i) {
        let j = if v.w(i + 1) == "-" { i + 2 } else { i + 1 };
        if n > 0 && v.w(j) == "weekly" {
            return Some((Freq::EveryHours(n.saturating_mul(168)), j + 1));
        }
        if n > 0 && v.w(j) == "monthly" {
            return Some((Freq::EveryHours(n.saturating_mul(720)), j + 1));
        }
        if v.is_any(j, &["hourly", "hrly"]) && n > 0 {
            return Some((Freq::EveryHours(n), j + 1));
        }
        return None;
    }
    // Weekdays: "on Mondays", "on Monday and Thursday".
    if let Some(d) = weekday(w) {
        // "on Mondays"; not "Thurs" or "Tues", which are abbreviations.
        let plural = w.ends_with("days");
        if plural {
            return Some(weekdays(v, i, d));
        }
        return None;
    }
    // Times of day: "in the morning", "at night", "with meals", "before breakfast".
    if let Some(c) = cue(w) {
        let prev = v.w(i.wrapping_sub(1));
        let prev2 = v.w(i.wrapping_sub(2));
        let introduced = matches!(
            prev,
            "at" | "every" | "each" | "with" | "before" | "after" | "and" | "&" | "in" | "by"
        ) || (prev == "the"
            && matches!(prev2, "in" | "at" | "with" | "before" | "after"))
            || (matches!(prev, "your" | "her" | "his" | "their" | "each" | "every")
                && matches!(prev2, "with" | "before" | "after" | "at" | "and" | ","))
            // "with each main meal"
            || (prev == "main" && matches!(prev2, "each" | "every" | "your" | "her" | "his"))
            || (matches!(prev, "/" | ",") && cue(prev2).is_some());
        let am_pm = matches!(w, "am" | "a.m" | "pm" | "p.m");
        if am_pm && v.kind(i.wrapping_sub(1)) == Some(Kind::Number) {
            return None;
        }
        let paired = v.is_any(i + 1, &["and", "&", "/"]) && cue(v.w(i + 2)).is_some();
        if introduced || paired {
            return Some((Freq::Cue(c), i + 1));
        }
    }
    None
}

/// Whether a frequency abbreviation or word stands at `i` ("bid", "q6h", "daily", "twice").
fn names_frequency(v: View<'_, '_>, i: usize) -> bool {
    let u = undotted(v.w(i));
    matches!(sig::meaning(&u), Some(sig::Meaning::Frequency(_)))
        || q_hours(&u).is_some()
        || matches!(u.as_ref(), "once" | "twice" | "daily" | "every" | "q")
        || (v.qty(i).is_some() && v.is_any(i + 1, &["times", "x"]))
}

/// "Monday, Wednesday and Friday" from the first weekday at `k`.
fn weekdays(v: View<'_, '_>, k: usize, first: u8) -> (Freq, usize) {
    let mut bits = first;
    let mut end = k + 1;
    loop {
        let sep = v.is_any(end, &[",", "and", "&", "/"]);
        let next = if sep { end + 1 } else { end };
        match weekday(v.w(next)) {
            Some(d) if sep => {
                bits |= d;
                end = next + 1;
            }
            _ => break,
        }
    }
    (Freq::Weekdays(bits), end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    fn freq(text: &str) -> Option<Freq> {
        let doc = Doc::new(text);
        let f = scan(View::new(&doc, 0, doc.toks.len()));
        f.explicit()
            .or_else(|| f.weekday_interval().map(Freq::EveryHours))
            .or_else(|| match f.cue_count() {
                0 => None,
                n => Some(Freq::PerDay(n)),
            })
    }

    #[test]
    fn words_and_digits() {
        for (text, per_day) in [
            ("once a day", 1),
            ("once daily", 1),
            ("twice a day", 2),
            ("twice daily", 2),
            ("twice-daily", 2),
            ("three times a day", 3),
            ("three times daily", 3),
            ("four times per day", 4),
            ("3x daily", 3),
            ("3 x daily", 3),
            ("3 times a day", 3),
            ("5 times a day", 5),
            ("daily", 1),
            ("every day", 1),
            ("each day", 1),
            ("2 litres a day", 1),
            ("per day", 1),
            ("twice in 24 hours", 2),
        ] {
            assert_eq!(freq(text), Some(Freq::PerDay(per_day)), "{text}");
        }
    }

    #[test]
    fn clinical_shorthand() {
        for (text, per_day) in [
            ("od", 1),
            ("o.d.", 1),
            ("qd", 1),
            ("q.d.", 1),
            ("bd", 2),
            ("b.d.", 2),
            ("bid", 2),
            ("b.i.d.", 2),
            ("BID", 2),
            ("tds", 3),
            ("t.d.s.", 3),
            ("tid", 3),
            ("t.i.d.", 3),
            ("qds", 4),
            ("q.d.s.", 4),
            ("qid", 4),
            ("q.i.d.", 4),
            ("mane", 1),
            ("nocte", 1),
            ("qhs", 1),
            ("nightly", 1),
            ("mane and nocte", 2),
            ("40mg ON", 1),
        ] {
            assert_eq!(freq(text), Some(Freq::PerDay(per_day)), "{text}");
        }
        for (text, hours) in [
            ("q4h", 4),
            ("q6h", 6),
            ("q8h", 8),
            ("q12h", 12),
            ("Q6H", 6),
            ("q 6 h", 6),
            ("q4-6h", 6),
            ("4-hourly", 4),
            ("4 hourly", 4),
        ] {
            assert_eq!(freq(text), Some(Freq::EveryHours(hours)), "{text}");
        }
    }

    #[test]
    fn intervals() {
        for (text, hours) in [
            ("every 6 hours", 6),
            ("every 8 hrs", 8),
            ("every four hours", 4),
            ("every 4-6 hours", 6),
            ("every 24 hours", 24),
            ("every 48 hours", 48),
            ("every other day", 48),
            ("every second day", 48),
            ("on alternate days", 48),
            ("every 2 days", 48),
            ("every third day", 72),
            ("every 3rd day", 72),
            ("weekly", 168),
            ("once weekly", 168),
            ("once a week", 168),
            ("every week", 168),
            ("twice weekly", 84),
            ("twice a week", 84),
            ("three times a week", 56),
            ("every 2 weeks", 336),
            ("fortnightly", 336),
            ("monthly", 720),
            ("every month", 720),
            ("every Monday", 168),
            ("every Monday and Thursday", 84),
            ("on Mondays, Wednesdays and Fridays", 56),
            ("7 days apart", 168),
        ] {
            assert_eq!(freq(text), Some(Freq::EveryHours(hours)), "{text}");
        }
    }

    #[test]
    fn repeats() {
        assert_eq!(freq("repeat after 7 days"), Some(Freq::Repeat(168)));
        assert_eq!(freq("repeat in one week"), Some(Freq::Repeat(168)));
        assert_eq!(freq("several times a day"), None);
    }

    #[test]
    fn times_of_day() {
        for (text, n) in [
            ("every morning", 1),
            ("each evening", 1),
            ("every night", 1),
            ("at night", 1),
            ("at bedtime", 1),
            ("in the morning", 1),
            ("before breakfast", 1),
            ("morning and evening", 2),
            ("in the morning and at night", 2),
            ("with meals", 3),
            ("am and pm", 2),
        ] {
            assert_eq!(freq(text), Some(Freq::PerDay(n)), "{text}");
        }
    }

    #[test]
    fn not_frequencies() {
        for text in [
            "once",
            "twice",
            "for 20 minutes",
            "on Friday",
            "8 am",
            "a week ago",
            "morning sickness",
        ] {
            assert_eq!(freq(text), None, "{text}");
        }
    }
}
