//! `--key value` options and positional arguments, without a parser dependency.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

pub struct Args {
    options: Vec<(String, String)>,
    positional: Vec<String>,
}

impl Args {
    pub fn parse(raw: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut options = Vec::new();
        let mut positional = Vec::new();
        let mut raw = raw.into_iter();
        while let Some(arg) = raw.next() {
            if let Some(key) = arg.strip_prefix("--") {
                let (key, value) = if let Some((key, value)) = key.split_once('=') {
                    (key.to_owned(), value.to_owned())
                } else {
                    let value = raw
                        .next()
                        .with_context(|| format!("--{key} needs a value"))?;
                    (key.to_owned(), value)
                };
                options.push((key, value));
            } else {
                positional.push(arg);
            }
        }
        Ok(Self {
            options,
            positional,
        })
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .with_context(|| format!("--{key} is required"))
    }

    /// Every value given for `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// A number within `bounds`, or `default` when absent: every loop stays bounded.
    pub fn number<T>(&self, key: &str, default: T, bounds: RangeInclusive<T>) -> Result<T>
    where
        T: FromStr + PartialOrd + Display + Copy,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        let value = match self.get(key) {
            Some(raw) => raw
                .parse::<T>()
                .with_context(|| format!("--{key} {raw:?} is not a number"))?,
            None => default,
        };
        if !bounds.contains(&value) {
            bail!(
                "--{key} {value} is outside {}..={}",
                bounds.start(),
                bounds.end()
            );
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[&str]) -> Args {
        Args::parse(raw.iter().map(|s| (*s).to_owned())).expect("parses")
    }

    #[test]
    fn options_repeat_and_the_last_one_wins() {
        let args = parse(&["--path", "/a", "--path=/b", "file.json", "--n", "3"]);
        assert_eq!(args.all("path"), ["/a", "/b"]);
        assert_eq!(args.get("path"), Some("/b"));
        assert_eq!(args.positional(), ["file.json"]);
        assert_eq!(args.number("n", 1, 1..=5).expect("in range"), 3);
        assert_eq!(args.number("m", 7, 1..=9).expect("default"), 7);
    }

    #[test]
    fn out_of_bounds_and_missing_values_are_refused() {
        assert!(parse(&["--n", "10"]).number("n", 1, 1..=5).is_err());
        assert!(parse(&["--n", "x"]).number("n", 1, 1..=5).is_err());
        assert!(Args::parse(["--n".to_owned()]).is_err());
    }
}
