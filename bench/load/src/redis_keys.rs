//! `hospital-bench redis-cleanup --url URL --prefix bench:…:`: deletes every key the
//! benchmark's reminder-service wrote under its own key prefix (`SCAN MATCH` + `UNLINK`),
//! leaving the rest of the Redis alone. The prefix must start with `bench:`, so the
//! command cannot touch the keys of `make up` or of the tests.

use anyhow::{bail, Context, Result};

use crate::args::Args;

pub async fn run(args: &Args) -> Result<()> {
    let url = args.required("url")?;
    let prefix = args.required("prefix")?;
    if !prefix.starts_with("bench:")
        || prefix
            .chars()
            .any(|c| matches!(c, '*' | '?' | '[' | ']' | '\\') || c.is_whitespace())
    {
        bail!("--prefix must start with bench: and hold no glob characters: {prefix:?}");
    }
    let client = redis::Client::open(url).context("--url is not a Redis URL")?;
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    let mut deleted: u64 = 0;
    // SCAN visits every key present from start to end at least once; bounded by the keys.
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut connection)
            .await
            .context("SCAN")?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut connection)
                .await
                .context("UNLINK")?;
            deleted += n;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    println!("redis: {deleted} keys under {prefix} deleted");
    Ok(())
}
