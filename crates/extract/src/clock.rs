//! Clock times: "8am", "8 pm", "08:00", "at 21:00", "7.30pm", "at 2200", "at noon".
//!
//! Each named time becomes a `fixed_times` entry. A bare number is never a time ("at 8"
//! could be anything); it needs a colon, am/pm, "o'clock", or four digits after "at".

// Token scanners read best in the notation of their patterns: `v` the view, `i`/`j`/`k`
// positions, `w` the word, `n` a number.
#![allow(clippy::many_single_char_names)]

use hospital_steps::ClockTime;

use crate::lexicon::integer;
use crate::tokens::{Kind, View};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub at: usize,
    pub end: usize,
    pub time: ClockTime,
}

pub(crate) fn scan(v: View<'_, '_>) -> Vec<Hit> {
    let mut out = Vec::new();
    let mut i = v.start;
    while i < v.end {
        if let Some((time, end)) = at(v, i) {
            out.push(Hit { at: i, end, time });
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// 0 for am, 12 for pm, and the tokens it takes ("a.m" then ".").
fn meridiem(v: View<'_, '_>, i: usize) -> Option<(bool, usize)> {
    let pm = match v.w(i) {
        "am" | "a.m" => false,
        "pm" | "p.m" => true,
        _ => return None,
    };
    let end = if v.w(i + 1) == "." && v.w(i).contains('.') {
        i + 2
    } else {
        i + 1
    };
    Some((pm, end))
}

fn with_meridiem(h: u32, m: u32, pm: bool) -> Option<ClockTime> {
    if !(1..=12).contains(&h) {
        return None;
    }
    let h = match (h, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, true) => h + 12,
        (h, false) => h,
    };
    ClockTime::new(h, m).ok()
}

fn split_hm(w: &str, sep: char) -> Option<(u32, u32)> {
    let (h, m) = w.split_once(sep)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    Some((integer(h)?, integer(m)?))
}

fn at(v: View<'_, '_>, i: usize) -> Option<(ClockTime, usize)> {
    let w = v.w(i);
    let after_at = v.w(i.wrapping_sub(1)) == "at";
    if v.kind(i) == Some(Kind::Word) {
        return match w {
            "noon" | "midday" if after_at => Some((ClockTime::new(12, 0).ok()?, i + 1)),
            "midnight" if after_at => Some((ClockTime::new(0, 0).ok()?, i + 1)),
            _ => None,
        };
    }
    if v.kind(i) != Some(Kind::Number) {
        return None;
    }
    let mer = meridiem(v, i + 1);
    if let Some((h, m)) = split_hm(w, ':') {
        return match mer {
            Some((pm, end)) => with_meridiem(h, m, pm)
                .or_else(|| ClockTime::new(h, m).ok())
                .map(|t| (t, end)),
            None => ClockTime::new(h, m).ok().map(|t| (t, i + 1)),
        };
    }
    let unit_next =
        crate::lexicon::is_strength_unit(v.w(i + 1)) || crate::lexicon::is_count_unit(v.w(i + 1));
    if let Some((h, m)) = split_hm(w, '.') {
        // "7.30pm", "at 7.30", "08.00 and 20.00"; not "12.50 mg".
        let clock_like = w.len() == 5 && !unit_next;
        return match mer {
            Some((pm, end)) => with_meridiem(h, m, pm).map(|t| (t, end)),
            None if after_at || clock_like => ClockTime::new(h, m).ok().map(|t| (t, i + 1)),
            None => None,
        };
    }
    let n = integer(w)?;
    if let Some((pm, end)) = mer {
        return with_meridiem(n, 0, pm).map(|t| (t, end));
    }
    if v.w(i + 1) == "o'clock" || v.w(i + 1) == "o’clock" {
        return ClockTime::new(n, 0).ok().map(|t| (t, i + 2));
    }
    let hrs = v.is_any(i + 1, &["h", "hrs", "hr", "hours"]);
    if w.len() == 4 && (hrs || (after_at && !unit_next)) {
        let t = ClockTime::new(n / 100, n % 100).ok()?;
        return Some((t, if hrs { i + 2 } else { i + 1 }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Doc;

    fn times(text: &str) -> Vec<String> {
        let doc = Doc::new(text);
        scan(View::new(&doc, 0, doc.toks.len()))
            .iter()
            .map(|h| h.time.to_string())
            .collect()
    }

    #[test]
    fn every_written_form() {
        assert_eq!(times("8am"), ["08:00"]);
        assert_eq!(times("8 pm"), ["20:00"]);
        assert_eq!(times("8 p.m. daily"), ["20:00"]);
        assert_eq!(times("08:00"), ["08:00"]);
        assert_eq!(times("at 21:00"), ["21:00"]);
        assert_eq!(times("at 7:30 and 19:30"), ["07:30", "19:30"]);
        assert_eq!(times("7.30pm"), ["19:30"]);
        assert_eq!(times("at 7.30"), ["07:30"]);
        assert_eq!(times("12am and 12pm"), ["00:00", "12:00"]);
        assert_eq!(times("at 2200"), ["22:00"]);
        assert_eq!(times("0800 hrs"), ["08:00"]);
        assert_eq!(times("at noon or at midnight"), ["12:00", "00:00"]);
        assert_eq!(times("9 o'clock"), ["09:00"]);
        assert_eq!(times("08:00, 14:00 and 20:00"), ["08:00", "14:00", "20:00"]);
        assert_eq!(times("08.00 and 20.00"), ["08:00", "20:00"]);
    }

    #[test]
    fn numbers_that_are_not_times() {
        for text in [
            "at 8",
            "1.5 ml",
            "BP 150/95",
            "25:00",
            "20,000 units",
            "after noon",
            "at 1000 units",
            "12.50 mg",
        ] {
            assert!(times(text).is_empty(), "{text}");
        }
    }
}
