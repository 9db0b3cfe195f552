//! The routing table: which service owns an `/api/v1` path, and whether the path
//! needs an access token. Paths are matched by whole segments, as the client sent
//! them (no decoding), and forwarded unchanged without the `/api/v1` prefix.

/// A service behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upstream {
    Auth,
    Notes,
    Reminders,
}

impl Upstream {
    pub const ALL: [Upstream; 3] = [Upstream::Auth, Upstream::Notes, Upstream::Reminders];

    pub fn name(self) -> &'static str {
        match self {
            Upstream::Auth => "auth",
            Upstream::Notes => "notes",
            Upstream::Reminders => "reminders",
        }
    }
}

/// Where a path goes and what it takes to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub upstream: Upstream,
    /// Signup, login and refresh: no access token needed.
    pub public: bool,
    /// `/auth/*`: counted against the per-IP rate limit.
    pub rate_limited: bool,
}

impl Route {
    const fn protected(upstream: Upstream) -> Self {
        Self {
            upstream,
            public: false,
            rate_limited: false,
        }
    }
}

/// The route of a path below `/api/v1` (it starts with `/`), or `None` when no
/// service owns it. Paths with dot segments or backslashes are refused outright:
/// an HTTP client library would normalise them into a different path than the one
/// the gateway checked.
pub fn resolve(path: &str) -> Option<Route> {
    let rest = path.strip_prefix('/')?;
    if rest.contains('\\') {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| is_dot_segment(s)) {
        return None;
    }
    let non_empty = |s: &[&str]| !s.is_empty();
    match segments.as_slice() {
        ["auth", tail @ ..] if non_empty(tail) => Some(Route {
            upstream: Upstream::Auth,
            public: matches!(tail, ["signup" | "login" | "refresh"]),
            rate_limited: true,
        }),
        ["users", tail @ ..] if non_empty(tail) => Some(Route::protected(Upstream::Auth)),
        ["doctors", ..] | ["patients", "me", "doctor"] => Some(Route::protected(Upstream::Auth)),
        ["patients", id, "notes", ..] if !id.is_empty() => Some(Route::protected(Upstream::Notes)),
        ["patients", id, "actionable-steps" | "reminders" | "adherence"] if !id.is_empty() => {
            Some(Route::protected(Upstream::Reminders))
        }
        ["checklist" | "reminders" | "notifications", tail @ ..] if non_empty(tail) => {
            Some(Route::protected(Upstream::Reminders))
        }
        _ => None,
    }
}

/// `.` or `..`, also percent-encoded (`%2e`, `.%2E`, …), which URL parsers decode.
fn is_dot_segment(segment: &str) -> bool {
    let lowered = segment.to_ascii_lowercase().replace("%2e", ".");
    lowered == "." || lowered == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(path: &str) -> Option<Upstream> {
        resolve(path).map(|r| r.upstream)
    }

    #[test]
    fn each_prefix_goes_to_its_owner() {
        use Upstream::{Auth, Notes, Reminders};
        let table = [
            ("/auth/signup", Some(Auth)),
            ("/auth/logout", Some(Auth)),
            ("/users/me", Some(Auth)),
            ("/doctors", Some(Auth)),
            ("/doctors/me/patients", Some(Auth)),
            ("/patients/me/doctor", Some(Auth)),
            ("/patients/42/notes", Some(Notes)),
            ("/patients/42/notes/7", Some(Notes)),
            ("/patients/42/actionable-steps", Some(Reminders)),
            ("/patients/42/reminders", Some(Reminders)),
            ("/patients/42/adherence", Some(Reminders)),
            ("/checklist/9/complete", Some(Reminders)),
            ("/reminders/9/check-in", Some(Reminders)),
            ("/notifications/stream", Some(Reminders)),
            ("/", None),
            ("", None),
            ("/auth", None),
            ("/users", None),
            ("/patients", None),
            ("/patients/42", None),
            ("/patients//notes", None),
            ("/patients/42/other", None),
            ("/patients/me/doctors", None),
            ("/checklist", None),
            ("/doctorsx", None),
            ("/unknown/thing", None),
            // Services' own routes on auth-service are never a client's.
            ("/internal/v1/patients/42/access", None),
            ("/internal", None),
        ];
        for (path, expected) in table {
            assert_eq!(upstream(path), expected, "{path}");
        }
    }

    #[test]
    fn only_signup_login_and_refresh_are_public() {
        for path in ["/auth/signup", "/auth/login", "/auth/refresh"] {
            let route = resolve(path).expect(path);
            assert!(route.public && route.rate_limited, "{path}");
        }
        for path in [
            "/auth/logout",
            "/auth/login/",
            "/auth/login/x",
            "/auth/Login",
            "/auth/%6cogin",
            "/users/me",
        ] {
            assert!(!resolve(path).expect(path).public, "{path}");
        }
        assert!(!resolve("/users/me").expect("route").rate_limited);
    }

    #[test]
    fn dot_segments_and_backslashes_are_refused() {
        for path in [
            "/auth/login/../../users/me",
            "/auth/login/%2e%2e/%2E%2E/users/me",
            "/auth/login/.%2e/x",
            "/users/./me",
            "/auth\\login",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }
}
